"""A client's life: open, use, close; nothing leaks when opening fails."""

from __future__ import annotations

import gc
from typing import Any

import pytest
from _loopback import Server, client_for
from _mocked import SEARCH, make_client
from aiohttp import web
from aioresponses import aioresponses

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
