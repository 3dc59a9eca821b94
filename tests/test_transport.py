"""The transport's "one send, one slot" rule, against a real aiohttp server on 127.0.0.1.

aiohttp re-sends an idempotent request once, silently, when a connection is reset
(``retry_persistent_connection`` in its ``client.py``). That re-send happened inside the one
limiter slot and key-budget unit the SDK had granted: the tracker counted two arrivals where the
SDK counted one request. The transport now refuses it; a retry the SDK decides on takes a new
slot.
"""

from __future__ import annotations

import pytest
from _strict_server import StrictServer
from aiohttp import web
from conftest import API_KEY

import lacale_async as la
from lacale_async import FakeClock, LaCaleClient

pytestmark = pytest.mark.integration


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
