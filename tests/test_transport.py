"""The HTTP layer against real servers on 127.0.0.1: one send per slot, redirects, bad URLs.

aiohttp re-sends an idempotent request once, silently, when a connection is reset
(``retry_persistent_connection`` in its ``client.py``). That re-send happened inside the one
limiter slot and key-budget unit the SDK had granted: the tracker counted two arrivals where the
SDK counted one request. The transport now refuses it; a retry the SDK decides on takes a new
slot. Uploads are never re-sent by a redirect, and a Location the URL parser refuses is a
ResponseError for that one call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from _loopback import Server, client_for
from _strict_server import StrictServer
from aiohttp import web
from conftest import API_KEY, META_JSON, info_hash_of, make_torrent, torrent_json

import lacale_async as la
from lacale_async import FakeClock, LaCaleClient

pytestmark = pytest.mark.integration

UPLOAD = "/api/external/upload"
BAD_LOCATIONS = ["http://127.0.0.1:99999/x", "http://[::1/api", "javascript:alert(1)"]


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    srv = Server()
    yield srv
    await srv.stop()


async def meta(request: web.Request) -> web.Response:
    return web.json_response(META_JSON)


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


async def test_a_redirect_hop_takes_its_own_slot_and_unit() -> None:
    arrivals: list[str] = []

    async def moved(request: web.Request) -> web.Response:
        arrivals.append(request.path)
        raise web.HTTPFound("/api/external/v2")

    async def answer(request: web.Request) -> web.Response:
        arrivals.append(request.path)
        return web.json_response([])

    app = web.Application()
    app.router.add_get("/api/external", moved)
    app.router.add_get("/api/external/v2", answer)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        clock = FakeClock()
        async with LaCaleClient(
            API_KEY,
            base_url=f"http://127.0.0.1:{runner.addresses[0][1]}",
            search_rate=(1, 10.0),
            key_rate=(5, 86_400.0),
            quota_store=None,
            clock=clock,
        ) as client:
            await client.search("x")
            quota = await client.quota()
    finally:
        await runner.cleanup()
    assert arrivals == ["/api/external", "/api/external/v2"]
    assert client.stats.requests == 2
    assert client.stats.key_budget.requests == 2
    assert quota.windows[0].used == 2
    assert clock.now() >= 10.0  # the hop waited for a slot of its own
