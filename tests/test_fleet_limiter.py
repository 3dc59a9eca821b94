"""RedisLimiter against a real Redis: the window guarantee across backends, pause, leases."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence

import pytest

redis = pytest.importorskip("redis")

from _windows import max_in_window  # noqa: E402

import lacale_async as la  # noqa: E402
from lacale_async import MonotonicClock  # noqa: E402
from lacale_async._limiter import Rate, default_margin  # noqa: E402
from lacale_async.fleet import RedisBackend, RedisLimiter  # noqa: E402

pytest_plugins = ["_redis"]
pytestmark = pytest.mark.redis

CLOCK = MonotonicClock()
SCOPE = "b" * 64


def limiters(backends: list[RedisBackend], rates: Sequence[Rate]) -> list[RedisLimiter]:
    made = []
    for backend in backends:
        limiter = backend.limiter(scope=SCOPE, endpoint="search", rates=rates, clock=CLOCK)
        assert isinstance(limiter, RedisLimiter)
        made.append(limiter)
    return made


async def run_requests(
    lims: list[RedisLimiter], count: int, latency: tuple[float, float]
) -> tuple[list[float], float]:
    """Send ``count`` fake requests spread over ``lims``; return server arrivals and duration.

    Each request "arrives" at a random moment between entering and leaving its slot, which is
    all a client knows about when the server counts it.
    """
    loop = asyncio.get_running_loop()
    arrivals: list[float] = []
    rng = random.Random(42)

    async def one(i: int) -> None:
        async with lims[i % len(lims)].slot():
            first, second = rng.uniform(*latency), rng.uniform(*latency)
            await asyncio.sleep(first)
            arrivals.append(loop.time())
            await asyncio.sleep(second)

    start = loop.time()
    await asyncio.gather(*(one(i) for i in range(count)))
    return arrivals, loop.time() - start


async def test_window_guarantee_holds_across_two_backends(backends: list[RedisBackend]) -> None:
    n, period = 3, 0.5
    arrivals, elapsed = await run_requests(limiters(backends, [(n, period)]), 12, (0.0, 0.03))
    assert len(arrivals) == 12
    assert max_in_window(arrivals, period) <= n
    # A burst of 3, then three more windows: the shared budget is spent, not halved.
    assert 3 * period <= elapsed <= 3 * (period + default_margin(period)) + 0.5


async def test_several_rates_all_hold(backends: list[RedisBackend]) -> None:
    rates: list[Rate] = [(2, 0.2), (3, 0.6)]
    arrivals, _ = await run_requests(limiters(backends, rates), 7, (0.0, 0.01))
    assert max_in_window(arrivals, 0.2) <= 2
    assert max_in_window(arrivals, 0.6) <= 3


async def test_a_slot_is_stamped_at_exit(backends: list[RedisBackend]) -> None:
    a, b = limiters(backends, [(1, 0.2)])
    loop = asyncio.get_running_loop()
    async with a.slot():
        await asyncio.sleep(0.3)  # a slow request: the tracker may count it late
        left = loop.time()
    async with b.slot():
        entered = loop.time()
    assert entered - left >= 0.2


async def test_a_full_window_makes_the_other_backend_wait(backends: list[RedisBackend]) -> None:
    a, b = limiters(backends, [(2, 0.4)])
    loop = asyncio.get_running_loop()
    start = loop.time()
    for _ in range(2):
        async with a.slot():
            pass
    async with b.slot():
        waited = loop.time() - start
    assert 0.4 <= waited <= 0.8


async def test_pause_is_shared_through_redis(backends: list[RedisBackend]) -> None:
    a, b = limiters(backends, [(10, 1.0)])
    loop = asyncio.get_running_loop()
    await a.pause(0.3)
    await a.pause(0.1)  # a shorter pause never shortens a longer one
    start = loop.time()
    async with b.slot():
        waited = loop.time() - start
    assert 0.25 <= waited <= 0.7
    await b.pause(0.0)  # ignored
    await b.pause(float("nan"))  # ignored
    start = loop.time()
    async with b.slot():
        assert loop.time() - start < 0.2


async def test_a_cancelled_waiter_takes_no_slot(
    backends: list[RedisBackend], redis_url: str, redis_prefix: str
) -> None:
    a, b = limiters(backends, [(1, 0.2)])
    loop = asyncio.get_running_loop()
    async with a.slot():
        waiter = asyncio.create_task(b.slot().__aenter__())
        await asyncio.sleep(0.05)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        left = loop.time()
    async with b.slot():
        # Only a's exit holds this one back: the cancelled waiter left nothing behind.
        assert loop.time() - left <= 0.2 + default_margin(0.2) + 0.15
    raw = redis.asyncio.Redis.from_url(redis_url)
    try:
        busy = [k async for k in raw.scan_iter(match=f"{redis_prefix}:*:rl:search:busy")]
        assert sum([await raw.zcard(k) for k in busy]) == 0
    finally:
        await raw.aclose()


async def test_the_slot_of_a_dead_holder_frees_when_its_lease_ends(
    redis_url: str, redis_prefix: str
) -> None:
    loop = asyncio.get_running_loop()
    rates: list[Rate] = [(1, 0.1)]
    dead = RedisBackend(redis_url, prefix=redis_prefix, slot_lease=0.5)
    await dead.open()
    start = loop.time()
    await limiters([dead], rates)[0].slot().__aenter__()  # never left: the process "died"
    await dead.aclose()
    async with RedisBackend(redis_url, prefix=redis_prefix, slot_lease=0.5) as alive:
        limiter = limiters([alive], rates)[0]
        async with limiter.slot():
            waited = loop.time() - start
    # The dead slot counts as ended when its lease did, then its window runs.
    assert 0.5 + 0.1 <= waited <= 1.2


async def test_a_slot_cannot_be_entered_twice(backends: list[RedisBackend]) -> None:
    (a,) = limiters(backends[:1], [(5, 1.0)])
    slot = a.slot()
    async with slot:
        pass
    with pytest.raises(Exception, match="twice"):
        async with slot:
            pass
    assert "search" in repr(a)
    assert a.rates == [(5, 1.0)]


@pytest.mark.parametrize("junk", [b"inf", b"1e300"])
async def test_a_corrupt_pause_key_is_a_backend_error_not_a_wait_for_ever(
    backends: list[RedisBackend], redis_url: str, redis_prefix: str, junk: bytes
) -> None:
    (a,) = limiters(backends[:1], [(10, 1.0)])
    await a.pause(30.0)
    with redis.Redis.from_url(redis_url) as raw:
        (key,) = list(raw.scan_iter(match=f"{redis_prefix}:*rl:search:pause"))
        raw.set(key, junk)

    async def one_request() -> None:
        async with a.slot():
            pass

    with pytest.raises(la.BackendError, match="not a usable number"):
        await asyncio.wait_for(one_request(), 10)  # a safety net: refused at once
