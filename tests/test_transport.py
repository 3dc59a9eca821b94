"""The HTTP layer (``_transport``): auth, timeouts, size caps, redirects, one send per slot.

aiohttp re-sends an idempotent request once, silently, when a connection is reset
(``retry_persistent_connection`` in its ``client.py``). That re-send happened inside the one
limiter slot and key-budget unit the SDK had granted: the tracker counted two arrivals where the
SDK counted one request. The transport now refuses it; a retry the SDK decides on takes a new
slot. Uploads are never re-sent by a redirect, and a Location the URL parser refuses is a
ResponseError for that one call.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import traceback
from typing import Any

import aiohttp
import pytest
from _loopback import Server, client_for, cut_short
from _mocked import SEARCH, calls, make_client, sent
from _sandboxed import tracker_client
from _strict_server import StrictServer
from aiohttp import web
from aioresponses import aioresponses
from conftest import API_KEY, META_JSON, info_hash_of, make_torrent, torrent_json

import lacale_async as la
from lacale_async import FakeClock, LaCaleClient
from lacale_async.testing import SandboxServer

pytest_plugins = ["_mocked", "_sandboxed", "_loopback"]

UPLOAD = "/api/external/upload"
BAD_LOCATIONS = ["http://127.0.0.1:99999/x", "http://[::1/api", "javascript:alert(1)"]


async def meta(request: web.Request) -> web.Response:
    return web.json_response(META_JSON)


@pytest.mark.integration
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("where", ["loop", "elsewhere"])
async def test_an_upload_answered_3xx_is_never_sent_again(
    server: Server, status: int, where: str
) -> None:
    async def redirect(request: web.Request) -> web.Response:
        await request.read()
        target = UPLOAD if where == "loop" else "/api/external/upload-here"
        return web.Response(status=status, headers={"Location": target})

    async def accept(request: web.Request) -> web.Response:
        return web.json_response({"success": True, "id": "1", "slug": "s", "link": "l"})

    server.route("GET", "/api/external/meta", meta)
    server.route("POST", UPLOAD, redirect)
    server.route("*", "/api/external/upload-here", accept)
    await server.start()
    torrent = make_torrent()
    async with client_for(server, max_retries=3) as client:
        with pytest.raises(la.ResponseError) as info:
            await client.upload(title="T", category="films", torrent=torrent)
    uploads = [r for r in server.seen if r.path.startswith(UPLOAD)]
    assert [(r.method, r.path) for r in uploads] == [("POST", UPLOAD)]
    error = info.value
    assert error.outcome_unknown is True
    assert info_hash_of(torrent) in str(error)
    assert str(status) in str(error)


@pytest.mark.integration
async def test_get_redirects_within_the_origin_are_still_followed(server: Server) -> None:
    async def moved(request: web.Request) -> web.Response:
        return web.Response(status=307, headers={"Location": "/api/external-v2?q=x"})

    async def search(request: web.Request) -> web.Response:
        return web.json_response([torrent_json()])

    server.route("GET", "/api/external", moved)
    server.route("GET", "/api/external-v2", search)
    await server.start()
    async with client_for(server) as client:
        assert len(await client.search("x")) == 1


@pytest.mark.integration
@pytest.mark.parametrize("location", BAD_LOCATIONS)
async def test_a_location_the_url_parser_refuses_is_a_response_error(
    server: Server, location: str
) -> None:
    async def redirect(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": location})

    server.route("GET", "/api/external", redirect)
    await server.start()
    async with client_for(server) as client:
        with pytest.raises(la.ResponseError, match="redirect"):
            await client.search("x")


@pytest.mark.integration
async def test_a_bad_location_fails_its_own_search_and_the_batch_goes_on(server: Server) -> None:
    async def search(request: web.Request) -> web.Response:
        q = request.query["q"]
        if q.startswith("bad"):
            location = BAD_LOCATIONS[int(q[-1]) % len(BAD_LOCATIONS)]
            return web.Response(status=302, headers={"Location": location})
        return web.json_response([torrent_json()])

    server.route("GET", "/api/external", search)
    await server.start()
    queries = [f"good {i}" for i in range(5)] + [f"bad {i}" for i in range(3)]
    async with client_for(server) as client:
        outcomes = [o async for o in client.search_many(queries, concurrency=4)]
    assert len(outcomes) == 8
    failed = sorted(o.query.query or "" for o in outcomes if not o.ok)
    assert failed == ["bad 0", "bad 1", "bad 2"]
    assert all(isinstance(o.error, la.ResponseError) for o in outcomes if not o.ok)


# -- one send, one slot ----------------------------------------------------------------------


@pytest.mark.integration
async def test_a_reset_after_arrival_is_not_resent_inside_the_same_slot() -> None:
    # Regression: the server counted 2 arrivals 1.6 ms apart while stats showed 1 request.
    async with StrictServer(reset_at={1}) as server:
        clock = FakeClock()
        async with LaCaleClient(
            API_KEY,
            base_url=server.url,
            search_rate=(1, 10.0),
            max_retries=0,
            clock=clock,
            quota_store=None,
        ) as client:
            with pytest.raises(la.TransportError):
                await client.search("x")
            assert server.count() == 1
            assert client.stats.requests == 1


@pytest.mark.integration
async def test_every_arrival_is_a_request_in_stats_with_retries() -> None:
    async with StrictServer(reset_at={1, 3, 4}) as server:
        clock = FakeClock()
        async with LaCaleClient(
            API_KEY,
            base_url=server.url,
            search_rate=(1, 10.0),
            max_retries=3,
            cache_ttl=0,
            clock=clock,
            quota_store=None,
        ) as client:
            await client.search("x")  # arrival 1 reset, retried as arrival 2
            await client.search("y")  # 3 and 4 reset, 5 answers
            assert server.count() == 5
            assert client.stats.requests == 5
            assert client.stats.retries == 3
            # Each retry waited for its own slot: 10 s of fake time apart at least.
            assert clock.now() >= 40.0


async def _one_redirect(server: Server) -> None:
    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("/api/external/v2")

    async def answer(request: web.Request) -> web.Response:
        return web.json_response([])

    server.route("GET", "/api/external", moved)
    server.route("GET", "/api/external/v2", answer)
    await server.start()


@pytest.mark.integration
async def test_a_redirect_hop_is_counted_with_no_limit_and_no_budget(server: Server) -> None:
    # With nothing to hold, the sender takes no slots: the hop must still count as a request.
    await _one_redirect(server)
    async with LaCaleClient(
        API_KEY,
        base_url=server.url,
        search_rate=None,
        key_rate=None,
        quota_store=None,
        clock=FakeClock(),
    ) as client:
        await client.search("x")
    assert [r.path for r in server.seen] == ["/api/external", "/api/external/v2"]
    assert client.stats.requests == 2
    assert client.stats.endpoints["search"].requests == 2


@pytest.mark.integration
async def test_a_redirect_hop_takes_its_own_slot_and_unit(server: Server) -> None:
    await _one_redirect(server)
    clock = FakeClock()
    async with LaCaleClient(
        API_KEY,
        base_url=server.url,
        search_rate=(1, 10.0),
        key_rate=(5, 86_400.0),
        quota_store=None,
        clock=clock,
    ) as client:
        await client.search("x")
        quota = await client.quota()
    assert [r.path for r in server.seen] == ["/api/external", "/api/external/v2"]
    assert client.stats.requests == 2
    assert client.stats.key_budget.requests == 2
    assert quota.windows[0].used == 2
    assert clock.now() >= 10.0  # the hop waited for a slot of its own


# -- the network faked at the HTTP boundary ----------------------------------------------


@pytest.mark.parametrize(
    ("exc", "cls"),
    [
        (aiohttp.ServerDisconnectedError(), la.TransportError),
        (aiohttp.ClientPayloadError("Response payload is not completed"), la.TransportError),
        (TimeoutError(), la.RequestTimeoutError),
        (aiohttp.ClientOSError(104, "Connection reset by peer"), la.TransportError),
    ],
)
async def test_transport_failures_map_to_transport_errors(
    fake_clock: FakeClock, mock: aioresponses, exc: Exception, cls: type[la.TransportError]
) -> None:
    mock.get(SEARCH, exception=exc, repeat=True)
    async with make_client(fake_clock, max_retries=0) as client:
        with pytest.raises(cls):
            await client.search("x")


async def test_oversized_answer_is_refused(fake_clock: FakeClock, mock: aioresponses) -> None:
    mock.get(SEARCH, body="[" + " " * 5000 + "]", content_type="application/json")
    async with make_client(fake_clock, max_body_size=1000, max_retries=3) as client:
        with pytest.raises(la.ResponseError, match="cap"):
            await client.search("x")
    # The same answer would come back: an over-cap answer is not retried.
    assert sent(mock) == 1


async def test_redirect_to_another_origin_is_not_followed(
    fake_clock: FakeClock, mock: aioresponses
) -> None:
    mock.get(SEARCH, status=302, headers={"Location": "https://evil.test/steal"})
    mock.get("https://evil.test/steal", payload=[])
    async with make_client(fake_clock, auth="query") as client:
        with pytest.raises(la.ResponseError, match="another origin"):
            await client.search("x")
    assert all(url.host == "tracker.test" for _, url, _ in calls(mock))


async def test_same_origin_redirect_is_followed(fake_clock: FakeClock, mock: aioresponses) -> None:
    mock.get(SEARCH, status=301, headers={"Location": "/api/external?q=y"})
    mock.get(SEARCH, payload=[torrent_json(0)])
    async with make_client(fake_clock) as client:
        assert len(await client.search("x")) == 1


async def test_redirect_does_not_duplicate_query_parameters(
    fake_clock: FakeClock, mock: aioresponses
) -> None:
    mock.get(SEARCH, status=302, headers={"Location": "/api/external?q=moved"})
    mock.get(SEARCH, payload=[])
    async with make_client(fake_clock, auth="query") as client:
        await client.search("x")
    second = calls(mock)[1][1]
    assert second.query.getall("q") == ["moved"]
    assert second.query.getall("apikey") == [API_KEY]


@pytest.mark.parametrize(
    ("auth", "param"),
    [("query", "apikey"), ("passkey", "passkey")],
)
async def test_query_auth_modes_put_the_key_in_the_query(
    fake_clock: FakeClock, mock: aioresponses, auth: str, param: str
) -> None:
    mock.get(SEARCH, payload=[])
    async with make_client(fake_clock, auth=auth) as client:
        await client.search("x")
    [(_, url, kwargs)] = calls(mock)
    assert url.query[param] == API_KEY
    assert "X-Api-Key" not in kwargs["headers"]


# -- the sandbox on 127.0.0.1, in both profiles ------------------------------------------


@pytest.mark.integration
async def test_every_auth_mode_is_accepted(tracker: SandboxServer) -> None:
    for auth in ("header", "query", "passkey"):
        async with tracker_client(tracker, auth=auth) as client:
            assert isinstance(await client.meta(), la.Meta)


# -- a real aiohttp server on 127.0.0.1 --------------------------------------------------


@pytest.mark.integration
async def test_a_stalled_body_times_out(server: Server) -> None:
    async def stall(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.content_length = 1000
        await resp.prepare(request)
        await resp.write(b"[")
        await asyncio.sleep(1)
        return resp

    server.route("GET", "/api/external", stall)
    await server.start()
    async with client_for(server, timeout=0.3) as client:
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(la.RequestTimeoutError, match=r"0\.3 s"):
            await client.search("x")
        assert loop.time() - start < 2


@pytest.mark.integration
async def test_a_hung_connect_is_a_connect_error(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The whole-request deadline would end this as a RequestTimeoutError; the shorter connect
    # bound must come first: nothing was sent, so it is a ConnectError (safe to retry).
    await server.start()
    loop = asyncio.get_running_loop()

    async def hang(sock: object, address: object) -> None:
        await loop.create_future()

    monkeypatch.setattr(loop, "sock_connect", hang)
    async with client_for(server, timeout=0.2) as client:
        with pytest.raises(la.ConnectError, match=r"no connection within 0\.1 s"):
            await client.search("x")


@pytest.mark.integration
async def test_concurrent_requests_share_one_timer(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    # aiohttp's ClientTimeout(total=...) armed a TimeoutHandle per request (a few % of a cache
    # miss); the transport's deadline table arms one timer for all of them.
    async def empty(request: web.Request) -> web.Response:
        return web.json_response([])

    server.route("GET", "/api/external", empty)
    await server.start()
    loop = asyncio.get_running_loop()
    armed: list[tuple[str, asyncio.TimerHandle]] = []
    call_at = loop.call_at

    def recording(when: float, callback: Any, *args: Any, **kwargs: Any) -> asyncio.TimerHandle:
        handle = call_at(when, callback, *args, **kwargs)
        armed.append((getattr(callback, "__qualname__", ""), handle))
        return handle

    monkeypatch.setattr(loop, "call_at", recording)
    async with client_for(server, cache_ttl=0, key_rate=None, quota_store=None) as client:
        await asyncio.gather(*(client.search(f"warm {i}") for i in range(50)))
        start = len(armed)
        await asyncio.gather(*(client.search(f"q {i}") for i in range(50)))
        burst = [name for name, _ in armed[start:]]
    monkeypatch.undo()
    assert not [name for name in burst if name.startswith("TimeoutHandle")]
    assert burst.count("Deadlines._sweep") <= 1
    sweeps = [handle for name, handle in armed if name == "Deadlines._sweep"]
    assert sweeps  # the table's timer, armed by the first request...
    assert all(handle.cancelled() for handle in sweeps)  # ...and not left behind by aclose


@pytest.mark.integration
async def test_a_truncated_body_is_a_transport_error(server: Server) -> None:
    async def truncated(request: web.Request) -> web.StreamResponse:
        return await cut_short(request, b'[{"title": "cut')

    server.route("GET", "/api/external", truncated)
    await server.start()
    async with client_for(server) as client:
        with pytest.raises(la.TransportError):
            await client.search("x")


@pytest.mark.integration
async def test_connection_refused_is_a_connect_error() -> None:
    # Bind then close a socket to get a port nobody listens on.
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    async with LaCaleClient(API_KEY, base_url=f"http://127.0.0.1:{port}", max_retries=0) as c:
        with pytest.raises(la.ConnectError, match="cannot connect"):
            await c.search("x")


@pytest.mark.integration
async def test_cross_origin_redirect_never_carries_the_key(
    server: Server, other_server: Server
) -> None:
    async def evil(request: web.Request) -> web.Response:
        return web.json_response([])

    other_server.route("GET", "/steal", evil)
    await other_server.start()

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"{other_server.url}/steal")

    server.route("GET", "/api/external", redirect)
    await server.start()
    for auth in ("header", "query"):
        async with client_for(server, auth=auth) as client:
            with pytest.raises(la.ResponseError, match="another origin"):
                await client.search("x")
    assert other_server.seen == []


@pytest.mark.integration
async def test_a_compression_bomb_is_stopped_at_the_cap(server: Server) -> None:
    inflated = b"[" + b" " * (8 * 1024 * 1024) + b"]"
    bomb = gzip.compress(inflated)

    async def handler(request: web.Request) -> web.Response:
        return web.Response(
            body=bomb,
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        )

    server.route("GET", "/api/external", handler)
    await server.start()
    assert len(bomb) < 1024 * 1024
    async with client_for(server, max_body_size=1024 * 1024) as client:
        with pytest.raises(la.ResponseError, match="cap"):
            await client.search("x")


@pytest.mark.integration
@pytest.mark.parametrize("auth", ["header", "query", "passkey"])
async def test_a_redirect_echoing_the_key_in_its_path_is_logged_without_it(
    server: Server, auth: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def echo(request: web.Request) -> web.Response:
        key = request.headers.get("X-Api-Key") or request.query.get("apikey") or ""
        key = key or request.query.get("passkey", "")
        raise web.HTTPFound(f"/api/external/{key}")

    async def search(request: web.Request) -> web.Response:
        return web.json_response([])

    server.route("GET", "/api/external", echo)
    server.route("GET", "/api/external/{tail}", search)
    await server.start()
    caplog.set_level(logging.DEBUG, logger="lacale_async")
    async with client_for(server, auth=auth) as client:
        assert await client.search("x") == []
    hops = [r.getMessage() for r in caplog.records if r.name == "lacale_async" and "->" in r.msg]
    assert len(hops) == 1
    assert "/api/external/***" in hops[0]
    assert API_KEY not in caplog.text


def _locals_shown(exc: BaseException) -> str:
    """What a tool that records locals (Sentry, ``pytest --showlocals``) takes from ``exc``."""
    shown = []
    seen: BaseException | None = exc
    while seen is not None:
        for frame, _ in traceback.walk_tb(seen.__traceback__):
            shown += [f"{name}={value!r}" for name, value in frame.f_locals.items()]
        seen = seen.__cause__ or seen.__context__
    return "\n".join(shown)


@pytest.mark.integration
@pytest.mark.parametrize("auth", ["header", "query", "passkey"])
async def test_no_traceback_frame_of_a_failed_request_holds_the_key(
    server: Server, auth: str
) -> None:
    async def hop(request: web.Request) -> web.Response:
        # A server that echoes the key into its Location, in the path and the query.
        raise web.HTTPFound(f"/api/cut/{API_KEY}?apikey={API_KEY}")

    server.route("GET", "/api/external", hop)
    server.route("GET", "/api/cut/{tail}", cut_short)
    await server.start()
    async with client_for(server, auth=auth) as client:
        with pytest.raises(la.TransportError) as failed:
            await client.search("x")  # a redirect hop, then a body cut short
    assert server.keys == [API_KEY, API_KEY]  # it was sent (its header, or the query)
    shown = _locals_shown(failed.value)
    frames = [frame.f_code.co_name for frame, _ in traceback.walk_tb(failed.value.__traceback__)]
    assert frames.count("_hop") == 2  # both hops' frames are in it, with their locals
    assert API_KEY not in shown
