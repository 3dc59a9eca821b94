"""WindowLimiter's guarantee, fairness and cancellation safety, on a fake clock.

The guarantee under test: for every (N, T), no window of length T holds more than N requests,
counted where the tracker counts them (at arrival, somewhere between our entry and our exit).
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager

import aiolimiter
import pytest
from _windows import max_in_window
from aiohttp import ClientSession, web

from lacale_async._clock import FakeClock, MonotonicClock
from lacale_async._errors import ConfigurationError
from lacale_async._limiter import (
    AsyncLimiterAdapter,
    RateLimiter,
    WindowLimiter,
    WindowLog,
    build_limiter,
    default_margin,
    parse_rates,
)
from lacale_async._stores import Backend, LocalBackend, derive_scope

Rates = Sequence[tuple[int, float]]


def max_in_fixed_windows(times: Sequence[float], period: float, offset: float = 0.0) -> int:
    counts = Counter(math.floor((t - offset) / period) for t in times)
    return max(counts.values(), default=0)


def assert_within_rates(times: Sequence[float], rates: Rates) -> None:
    for calls, period in rates:
        assert max_in_window(times, period) <= calls, (calls, period)
        for offset in (0.0, period / 3, period / 2):
            assert max_in_fixed_windows(times, period, offset) <= calls


class Record:
    def __init__(self) -> None:
        self.entry = math.nan
        self.arrival = math.nan
        self.exit = math.nan


async def request(
    clock: FakeClock,
    limiter: RateLimiter,
    *,
    start: float = 0.0,
    to_server: float = 0.0,
    from_server: float = 0.0,
) -> Record:
    """One request: wait until ``start``, take a slot, reach the server, get the answer."""
    rec = Record()
    await clock.sleep(start - clock.now())
    async with limiter.slot():
        rec.entry = clock.now()
        await clock.sleep(to_server)
        rec.arrival = clock.now()
        await clock.sleep(from_server)
    rec.exit = clock.now()
    return rec


RATE_SETS: list[list[tuple[int, float]]] = [
    [(1, 1.0)],
    [(5, 1.0)],
    [(5, 10.0)],
    [(5, 10.0), (30, 60.0)],
    [(3, 2.0), (4, 5.0)],
    [(10, 1.0), (20, 4.0)],
]


@pytest.mark.parametrize("rates", RATE_SETS, ids=str)
async def test_random_patterns_never_exceed_any_window(rates: list[tuple[int, float]]) -> None:
    span = max(t for _, t in rates)
    for seed in range(8):
        rng = random.Random(f"{rates}-{seed}")
        clock = FakeClock()
        limiter = WindowLimiter(rates, clock=clock)
        jobs = [
            request(
                clock,
                limiter,
                start=rng.choice([0.0, rng.uniform(0, 3 * span)]),
                to_server=rng.choice([0.0, rng.expovariate(4.0), rng.uniform(0, span)]),
                from_server=rng.choice([0.0, rng.expovariate(4.0)]),
            )
            for _ in range(rng.randint(10, 80))
        ]
        records = await asyncio.gather(*jobs)
        assert_within_rates([r.entry for r in records], rates)
        # The real guarantee: counted at arrival, whatever the latency.
        assert_within_rates([r.arrival for r in records], rates)
        assert limiter.log.in_flight == 0


async def test_first_n_are_sent_at_once_then_slots_reopen_after_exit() -> None:
    clock = FakeClock()
    n, t = 5, 10.0
    limiter = WindowLimiter([(n, t)], clock=clock)
    records = await asyncio.gather(
        *(request(clock, limiter, to_server=0.3, from_server=0.2) for _ in range(3 * n))
    )
    entries = sorted(r.entry for r in records)
    assert entries[:n] == [0.0] * n  # the burst is not spaced out
    # The next slot reopens T + margin after the first *exit* (0.5 s), not after the entry.
    assert entries[n] == pytest.approx(0.5 + t + default_margin(t))
    assert entries[2 * n] == pytest.approx(2 * (0.5 + t + default_margin(t)))


@pytest.mark.parametrize(("n", "t"), [(5, 1.0), (5, 10.0), (30, 60.0), (1, 2.0)])
async def test_throughput_close_to_theoretical_minimum(n: int, t: float) -> None:
    clock = FakeClock()
    limiter = WindowLimiter([(n, t)], clock=clock)
    records = await asyncio.gather(*(request(clock, limiter) for _ in range(4 * n)))
    last = max(r.entry for r in records)
    assert 3 * t <= last <= 1.10 * 3 * t  # 4N requests need at least 3 more windows

    clock = FakeClock()
    limiter = WindowLimiter([(n, t)], clock=clock)
    latency = 0.05
    records = await asyncio.gather(
        *(
            request(clock, limiter, to_server=latency / 2, from_server=latency / 2)
            for _ in range(5 * n)
        )
    )
    last = max(r.entry for r in records)
    assert last <= 1.05 * 4 * t + 4 * latency  # the margin costs well under 5 %


async def test_pause_holds_back_every_waiter_of_every_limiter_on_the_log() -> None:
    clock = FakeClock()
    log = WindowLog()
    rates = [(2, 1.0)]
    a = WindowLimiter(rates, clock=clock, log=log)
    b = WindowLimiter(rates, clock=clock, log=log)
    jobs = [
        asyncio.create_task(request(clock, a if i % 2 else b, to_server=0.01)) for i in range(50)
    ]

    async def tracker_says_429() -> None:
        await clock.sleep(0.5)
        await a.pause(30.0)

    await asyncio.gather(tracker_says_429(), *jobs)
    entries = [j.result().entry for j in jobs]
    assert log.pause_until == 30.5
    assert not [e for e in entries if 0.5 < e < 30.5]
    assert sum(1 for e in entries if e >= 30.5) == 48
    assert min(e for e in entries if e >= 30.5) == 30.5  # resumes as soon as the pause ends
    assert_within_rates(entries, rates)


async def test_pause_ignores_non_positive_and_only_extends() -> None:
    clock = FakeClock()
    limiter = WindowLimiter([(5, 1.0)], clock=clock)
    await limiter.pause(10.0)
    await limiter.pause(2.0)  # a shorter pause never shortens a longer one
    await limiter.pause(-1.0)
    await limiter.pause(float("nan"))
    assert limiter.log.pause_until == 10.0
    rec = await request(clock, limiter)
    assert rec.entry == 10.0


async def test_waiters_are_served_first_come_first_served() -> None:
    clock = FakeClock()
    log = WindowLog()
    limiters = [WindowLimiter([(1, 1.0)], clock=clock, log=log) for _ in range(3)]
    order: list[int] = []

    async def job(i: int) -> None:
        await clock.sleep(0.001 * i)  # queue up in index order
        async with limiters[i % 3].slot():
            order.append(i)

    await asyncio.gather(*(job(i) for i in reversed(range(30))))
    assert order == list(range(30))


async def test_a_waiter_needing_more_budget_is_not_starved_by_later_ones() -> None:
    # The strict limiter's waiter needs an empty window; loose waiters arriving after it could
    # go at once, but jumping the queue could starve it forever on a busy log.
    clock = FakeClock()
    log = WindowLog()
    loose = WindowLimiter([(5, 10.0)], clock=clock, log=log)
    strict = WindowLimiter([(1, 10.0)], clock=clock, log=log)
    first = await request(clock, loose)
    strict_job = asyncio.create_task(request(clock, strict, start=1.0))
    later = [asyncio.create_task(request(clock, loose, start=2.0)) for _ in range(4)]
    s = await strict_job
    rest = await asyncio.gather(*later)
    assert first.entry == 0.0
    assert s.entry == pytest.approx(10.0 + default_margin(10.0))
    assert all(r.entry >= s.entry for r in rest)


async def test_cancelled_waiters_take_no_slot_and_leak_nothing() -> None:
    clock = FakeClock()
    n, t = 1, 10.0
    limiter = WindowLimiter([(n, t)], clock=clock)
    m = default_margin(t)
    first = asyncio.create_task(request(clock, limiter, from_server=1.0))
    waiting_for_exit = asyncio.create_task(request(clock, limiter))  # head: awaits an exit
    queued = [asyncio.create_task(request(clock, limiter)) for _ in range(3)]
    await asyncio.sleep(0)
    await clock.sleep(0.5)
    waiting_for_exit.cancel()  # the head, while the only slot is in flight
    queued[1].cancel()  # one in the middle of the queue
    await clock.sleep(1.0)  # t = 1.5: queued[0] is now head, sleeping until 1 + T + m
    queued[0].cancel()
    done = await asyncio.gather(first, waiting_for_exit, *queued, return_exceptions=True)
    assert [type(d).__name__ for d in done] == [
        "Record",
        "CancelledError",
        "CancelledError",
        "CancelledError",
        "Record",
    ]
    survivor = done[-1]
    assert isinstance(survivor, Record)
    # Cancelled waiters consumed nothing: the survivor enters at the first free moment.
    assert survivor.entry == pytest.approx(1.0 + t + m)
    assert limiter.log.in_flight == 0
    rec = await request(clock, limiter)  # the FIFO gate is free again
    assert rec.entry == pytest.approx(survivor.exit + t + m)


async def test_cancelled_request_frees_its_slot_at_cancellation_time() -> None:
    clock = FakeClock()
    limiter = WindowLimiter([(1, 5.0)], clock=clock)
    slow = asyncio.create_task(request(clock, limiter, to_server=100.0))
    nxt = asyncio.create_task(request(clock, limiter))
    await clock.sleep(2.0)
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow
    rec = await nxt
    assert rec.entry == pytest.approx(2.0 + 5.0 + default_margin(5.0))
    assert limiter.log.in_flight == 0


async def test_two_limiters_on_one_log_share_one_budget() -> None:
    clock = FakeClock()
    log = WindowLog()
    a = WindowLimiter([(5, 10.0)], clock=clock, log=log, name="a")
    b = WindowLimiter([(5, 10.0)], clock=clock, log=log, name="b")
    recs = await asyncio.gather(*(request(clock, x) for x in [a, b] * 10))
    entries = [r.entry for r in recs]
    assert entries.count(0.0) == 5  # not 10: one budget
    assert_within_rates(entries, [(5, 10.0)])

    # Separate logs are separate budgets.
    clock = FakeClock()
    c = WindowLimiter([(5, 10.0)], clock=clock)
    d = WindowLimiter([(5, 10.0)], clock=clock)
    recs = await asyncio.gather(*(request(clock, x) for x in [c, d] * 5))
    assert [r.entry for r in recs] == [0.0] * 10


async def test_limiters_with_different_rates_on_one_log_each_hold_their_own() -> None:
    clock = FakeClock()
    log = WindowLog()
    loose = WindowLimiter([(5, 10.0)], clock=clock, log=log)
    strict = WindowLimiter([(2, 10.0)], clock=clock, log=log)
    tagged = [("loose", loose), ("strict", strict)] * 8
    recs = await asyncio.gather(*(request(clock, lim) for _, lim in tagged))
    all_entries = [r.entry for r in recs]
    assert_within_rates(all_entries, [(5, 10.0)])
    for (tag, _), rec in zip(tagged, recs, strict=True):
        if tag == "strict":
            before = [e for e in all_entries if rec.entry - 10.0 < e < rec.entry]
            assert len(before) < 2


async def test_plain_aiolimiter_exceeds_the_window_but_ours_does_not() -> None:
    # The surprise: a leaky bucket of N per T admits a burst of N *and* keeps leaking, so the
    # first window of T sees close to 2N requests. A strict tracker answers 429 to those.
    n, t = 5, 0.2
    bucket = aiolimiter.AsyncLimiter(n, t)
    loop = asyncio.get_running_loop()
    stamps: list[float] = []

    async def leaky() -> None:
        async with bucket:
            stamps.append(loop.time())

    await asyncio.gather(*(leaky() for _ in range(3 * n)))
    assert max_in_window(stamps, t) > n  # typically 2N - 1

    clock = FakeClock()
    limiter = WindowLimiter([(n, t)], clock=clock)
    recs = await asyncio.gather(*(request(clock, limiter) for _ in range(3 * n)))
    assert max_in_window([r.entry for r in recs], t) == n


async def test_async_limiter_adapter_wraps_aiolimiter_and_adds_pause() -> None:
    clock = FakeClock()
    bucket = aiolimiter.AsyncLimiter(2, 3600)
    adapter = build_limiter(bucket, clock=clock)
    assert isinstance(adapter, AsyncLimiterAdapter)
    assert isinstance(adapter, RateLimiter)
    assert adapter.limiter is bucket
    async with adapter.slot():
        pass
    assert bucket.has_capacity()
    await adapter.pause(7.0)
    async with adapter.slot():
        assert clock.now() == 7.0  # the pause is on the injected clock
    assert not bucket.has_capacity()  # both units of the bucket were taken
    blocked = asyncio.create_task(adapter.slot().__aenter__())
    await asyncio.sleep(0.01)
    assert not blocked.done()
    blocked.cancel()
    with pytest.raises(asyncio.CancelledError):
        await blocked


class CustomLimiter:
    def slot(self) -> AbstractAsyncContextManager[None]:
        raise NotImplementedError

    async def pause(self, seconds: float) -> None:
        raise NotImplementedError


def test_build_limiter_forms() -> None:
    clock = MonotonicClock()
    assert build_limiter(None, clock=clock) is None
    custom = CustomLimiter()
    assert build_limiter(custom, clock=clock) is custom
    single = build_limiter((30, 60), clock=clock, name="upload")
    assert isinstance(single, WindowLimiter)
    assert single.rates == [(30, 60.0)]
    assert "upload" in repr(single)
    multi = build_limiter([(5, 10.0), (30, 60.0)], clock=clock)
    assert isinstance(multi, WindowLimiter)
    assert multi.rates == [(5, 10.0), (30, 60.0)]
    log = WindowLog()
    shared = build_limiter(((5, 10.0),), clock=clock, log=log)
    assert isinstance(shared, WindowLimiter)
    assert shared.log is log
    assert parse_rates((5, 1)) == [(5, 1.0)]
    assert parse_rates((10**9, 365 * 86_400)) == [(10**9, 365 * 86_400.0)]


@pytest.mark.parametrize(
    "bad",
    [
        (0, 10.0),
        (-1, 10.0),
        (2.5, 10.0),
        (True, 10.0),
        (5, 0),
        (5, -1.0),
        (5, float("inf")),
        (5, float("nan")),
        # Beyond a year, or more calls than any tracker allows: dates and messages overflowed.
        (5, 1e15),
        (5, 365 * 86_400.0 + 1),
        pytest.param((5, 10**5000), id="period=10**5000"),
        pytest.param((10**5000, 10.0), id="calls=10**5000"),
        (10**9 + 1, 10.0),
        (5, "10"),
        (5,),
        [],
        "5/10",
        5,
        [(5, 10.0), (0, 60.0)],
        [(5, 10.0), "x"],
        {"calls": 5},
    ],
    ids=repr,
)
def test_build_limiter_rejects_bad_rates(bad: object) -> None:
    with pytest.raises(ConfigurationError, match="search_rate"):
        build_limiter(bad, clock=MonotonicClock(), name="search")  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [pytest.param(10**5000, id="10**5000"), 5, b"search", None])
def test_name_must_be_a_string(bad: object) -> None:
    # f"{name}_rate" of 10**5000 raised a raw ValueError before the message was built.
    with pytest.raises(ConfigurationError, match="name must be a string") as info:
        WindowLimiter([(1, 1.0)], clock=MonotonicClock(), name=bad)  # type: ignore[arg-type]
    assert len(str(info.value)) < 100


def test_margin_validation_and_default() -> None:
    assert default_margin(1.0) == pytest.approx(0.02)
    assert default_margin(60.0) == 0.25
    clock = MonotonicClock()
    with pytest.raises(ConfigurationError):
        WindowLimiter([(1, 1.0)], clock=clock, margin=-0.1)
    with pytest.raises(ConfigurationError):
        WindowLimiter([(1, 1.0)], clock=clock, margin=float("nan"))


async def test_explicit_margin_is_used() -> None:
    clock = FakeClock()
    limiter = WindowLimiter([(1, 1.0)], clock=clock, margin=0.5)
    recs = await asyncio.gather(*(request(clock, limiter) for _ in range(3)))
    assert [r.entry for r in recs] == [0.0, 1.5, 3.0]


async def test_local_backend_shares_one_budget_per_scope_and_endpoint() -> None:
    backend = LocalBackend()
    assert isinstance(backend, Backend)
    clock = FakeClock()
    scope = derive_scope("key-one", "https://tracker.test")
    other = derive_scope("key-two", "https://tracker.test")
    a = backend.limiter(scope=scope, endpoint="search", rates=[(5, 10.0)], clock=clock)
    b = LocalBackend().limiter(scope=scope, endpoint="search", rates=[(5, 10.0)], clock=clock)
    c = backend.limiter(scope=other, endpoint="search", rates=[(5, 10.0)], clock=clock)
    d = backend.limiter(scope=scope, endpoint="upload", rates=[(5, 10.0)], clock=clock)
    assert isinstance(a, WindowLimiter)
    assert isinstance(b, WindowLimiter)
    assert isinstance(c, WindowLimiter)
    assert isinstance(d, WindowLimiter)
    assert a.log is b.log  # same key and origin: one budget, even across backend objects
    assert c.log is not a.log  # another key never shares
    assert d.log is not a.log  # another endpoint has its own budget
    recs = await asyncio.gather(*(request(clock, x) for x in [a, b, c] * 4))
    entries = [r.entry for r in recs]
    assert entries.count(0.0) == 5 + 4  # a+b share 5, c has its own 5 (4 requests)
    await backend.aclose()
    await backend.aclose()


async def test_local_backend_registry_does_not_keep_dead_logs() -> None:
    import gc
    import weakref

    clock = FakeClock()
    scope = derive_scope("k", "https://x.test")
    limiter = LocalBackend().limiter(scope=scope, endpoint="meta", rates=[(1, 1.0)], clock=clock)
    assert isinstance(limiter, WindowLimiter)
    ref = weakref.ref(limiter.log)
    del limiter
    # A log no limiter uses and whose history binds nothing is dropped at the registry's next
    # use (one that still binds a request is kept: see test_sender's inheriting clients).
    other = derive_scope("k2", "https://x.test")
    LocalBackend().limiter(scope=other, endpoint="meta", rates=[(1, 1.0)], clock=clock)
    gc.collect()
    assert ref() is None
    fresh = LocalBackend().limiter(scope=scope, endpoint="meta", rates=[(1, 1.0)], clock=clock)
    assert isinstance(fresh, WindowLimiter)
    assert fresh.log.in_flight == 0


def test_scope_never_contains_the_key() -> None:
    key = "super-secret-api-key-123"
    scope = derive_scope(key, "https://tracker.test")
    assert key not in scope
    assert scope == derive_scope(key, "https://tracker.test")
    assert scope != derive_scope(key, "https://other.test")
    assert scope != derive_scope(key + "x", "https://tracker.test")


# -- real time, real sockets ----------------------------------------------------------------


def strict_sliding_window_app(calls: int, period: float) -> tuple[web.Application, Counter[int]]:
    """A tiny tracker stand-in: counts each request when it arrives, 429 past N per T."""
    arrivals: list[float] = []
    statuses: Counter[int] = Counter()

    async def handle(request: web.Request) -> web.Response:
        now = time.monotonic()
        recent = [a for a in arrivals if now - a < period]
        if len(recent) >= calls:
            statuses[429] += 1
            return web.json_response({"error": "rate limited"}, status=429)
        arrivals.append(now)
        statuses[200] += 1
        await asyncio.sleep(0.005)  # the server takes a moment to answer
        return web.json_response([])

    app = web.Application()
    app.router.add_get("/api/external", handle)
    return app, statuses


@pytest.mark.integration
async def test_real_server_strict_sliding_window_sees_no_429() -> None:
    n, t, total = 5, 1.0, 20
    app, statuses = strict_sliding_window_app(n, t)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        url = f"http://127.0.0.1:{port}/api/external"
        limiter = WindowLimiter([(n, t)], clock=MonotonicClock())
        latencies: list[float] = []
        async with ClientSession() as session:

            async def one() -> None:
                async with limiter.slot():
                    sent = time.monotonic()
                    async with session.get(url) as resp:
                        await resp.read()
                    latencies.append(time.monotonic() - sent)

            started = time.monotonic()
            await asyncio.gather(*(one() for _ in range(total)))
            elapsed = time.monotonic() - started
    finally:
        await runner.cleanup()
    assert statuses[429] == 0
    assert statuses[200] == total
    minimum = (total // n - 1) * t  # 3 more windows after the first burst
    rounds = total // n - 1
    assert minimum <= elapsed <= 1.10 * minimum + rounds * max(latencies)
