"""A client's life: open, use, close; nothing leaks when opening fails."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from _loopback import Server, client_for
from _mocked import SEARCH, make_client, sent
from aiohttp import web
from aioresponses import aioresponses
from conftest import API_KEY, BASE, META_JSON, make_torrent

import lacale_async as la
from lacale_async import FakeClock, LaCaleClient
from lacale_async.testing import SandboxServer

pytest_plugins = ["_mocked", "_loopback"]


class RefusingBackend(la.LocalBackend):
    def cache(self, **kwargs: Any) -> Any:
        raise la.BackendError("backend not opened")


# -- the network faked at the HTTP boundary ----------------------------------------------


async def test_states_and_double_close(fake_clock: FakeClock) -> None:
    client = make_client(fake_clock)
    states = [client.state]
    with pytest.raises(la.ClientStateError, match="not open"):
        await client.search("x")
    async with client:
        states.append(client.state)
        with pytest.raises(la.ClientStateError, match="already open"):
            await client.open()
    states.append(client.state)
    assert states == [la.ClientState.UNOPENED, la.ClientState.OPEN, la.ClientState.CLOSED]
    await client.aclose()
    await client.aclose()
    with pytest.raises(la.ClientStateError, match="closed"):
        await client.search("x")
    with pytest.raises(la.ClientStateError, match="closed"):
        await client.open()


async def test_open_and_aclose_without_context_manager(
    fake_clock: FakeClock, mock: aioresponses
) -> None:
    mock.get(SEARCH, payload=[])
    client = await make_client(fake_clock).open()
    try:
        assert await client.search("x") == []
    finally:
        await client.aclose()


async def test_a_backend_failure_at_open_leaks_no_session(fake_clock: FakeClock) -> None:
    # pytest turns an "Unclosed client session" ResourceWarning into a failure.
    client = make_client(fake_clock, backend=RefusingBackend())
    with pytest.raises(la.BackendError):
        await client.open()
    assert client.state is la.ClientState.UNOPENED
    gc.collect()


# -- a real aiohttp server on 127.0.0.1 --------------------------------------------------


@pytest.mark.integration
async def test_closing_leaves_no_unclosed_session_warning(server: Server) -> None:
    async def search(request: web.Request) -> web.Response:
        return web.json_response([])

    server.route("GET", "/api/external", search)
    await server.start()
    # pytest runs with warnings as errors: an unclosed aiohttp session would fail this test.
    for _ in range(3):
        async with client_for(server) as client:
            await client.search("x")
        await client.aclose()


CALLS: dict[str, Callable[[LaCaleClient], Awaitable[object]]] = {
    "download": lambda client: client.download("a" * 40),
    "bypass search": lambda client: client.search("x", cache="bypass"),
    "upload": lambda client: client.upload(title="T", category="films", torrent=make_torrent()),
    "cached search": lambda client: client.search("y"),
}


@pytest.mark.integration
@pytest.mark.parametrize("name", CALLS)
async def test_closing_ends_a_request_whose_answer_is_still_coming(
    server: Server, name: str
) -> None:
    # The answer's head arrives, its body never ends: closing the client must end the call
    # at once (it used to hang, its deadline forgotten by the close), and with an SDK error.
    arrived, release = asyncio.Event(), asyncio.Event()

    async def half_answer(request: web.Request) -> web.StreamResponse:
        await request.read()
        answer = web.StreamResponse(headers={"Content-Type": "application/json"})
        await answer.prepare(request)
        await answer.write(b"[")
        arrived.set()
        await release.wait()  # the body never ends while the test runs
        return answer

    server.route("GET", "/api/external/meta", meta_answer)
    server.route("*", "/{path:.*}", half_answer)
    await server.start()
    client = await client_for(server, key_rate=None, quota_store=None).open()
    call = asyncio.ensure_future(CALLS[name](client))
    await arrived.wait()
    # A safety net: the close ends the call long before.
    await asyncio.wait_for(client.aclose(), 10)
    with pytest.raises(la.ClientStateError, match="closed while this request"):
        await asyncio.wait_for(call, 10)
    release.set()
    if name == "upload":
        assert call.exception().outcome_unknown  # type: ignore[union-attr]


@pytest.mark.integration
async def test_a_close_cancelled_halfway_still_closes_the_session(server: Server) -> None:
    # A shutdown timeout cancels aclose() while a request is in flight: the session must still
    # be closed (pytest turns an unclosed session's warning into a failure), as the client
    # already counts as closed and a second aclose() does nothing.
    arrived, release = asyncio.Event(), asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        arrived.set()
        await release.wait()
        return web.json_response([])

    server.route("GET", "/api/external", slow)
    await server.start()
    client = await client_for(server, key_rate=None, quota_store=None).open()
    search = asyncio.ensure_future(client.search("x"))
    await arrived.wait()
    closer = asyncio.ensure_future(client.aclose())
    await asyncio.sleep(0)  # the close has begun
    closer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closer
    with pytest.raises(la.ClientStateError):
        await search
    release.set()
    del client, search, closer
    gc.collect()


async def meta_answer(request: web.Request) -> web.Response:
    return web.json_response(META_JSON)


async def test_a_request_waiting_for_its_limiter_is_never_sent_once_the_client_closed(
    mock: aioresponses,
) -> None:
    mock.get(SEARCH, payload=[], repeat=True)
    waiting = asyncio.Event()
    client = LaCaleClient(
        API_KEY,
        base_url=BASE,
        search_rate=(1, 3600.0),
        key_rate=None,
        on_wait=lambda event: waiting.set(),
    )
    await client.open()
    await client.search("first")
    waiting.clear()
    second = asyncio.ensure_future(client.search("second", cache="bypass"))
    await waiting.wait()  # held back by the limiter for an hour
    await client.aclose()
    with pytest.raises(la.ClientStateError, match="closed while this request"):
        await asyncio.wait_for(second, 10)  # not an hour after the close
    assert sent(mock) == 1


# -- the sandbox on 127.0.0.1, in both profiles ------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize("lacale_sandbox_profile", ["live", "docs"])
async def test_the_pytest_plugin_fixtures(
    lacale_sandbox: SandboxServer, lacale_client: LaCaleClient, lacale_sandbox_profile: str
) -> None:
    meta = await lacale_client.meta()
    assert meta.categories
    assert lacale_client.base_url == lacale_sandbox.base_url
    assert lacale_sandbox.config.profile == lacale_sandbox_profile


async def test_a_cached_search_is_refused_once_the_client_is_closed(
    fake_clock: FakeClock, mock: aioresponses
) -> None:
    mock.get(SEARCH, payload=[], repeat=True)
    client = make_client(fake_clock, cache_ttl=60)
    async with client:
        await client.search("x")
        await client.search("x")
        assert client.stats.cache_hits == 1
    with pytest.raises(la.ClientStateError, match="closed"):
        await client.search("x")  # the hit path answers an open client only
