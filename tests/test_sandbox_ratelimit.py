"""Sandbox rate limiting: sliding vs fixed windows, Retry-After, per key and per IP."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Mapping

import aiohttp
import pytest

from lacale_async import ConfigurationError, FakeClock
from lacale_async.testing import Fault, RateLimit, SandboxConfig, SandboxServer
from lacale_async.testing._ratelimit import WindowLimiter, retry_after_header

# --- the window arithmetic (no network) ----------------------------------------------------


def admitted(limiter: WindowLimiter, limit: RateLimit, arrivals: list[float]) -> list[bool]:
    return [limiter.acquire([("b", limit)], t) is None for t in arrivals]


def test_sliding_window_never_admits_more_than_n_in_any_span() -> None:
    limit = RateLimit(3, 10.0)
    limiter = WindowLimiter("sliding")
    assert admitted(limiter, limit, [0, 1, 2]) == [True] * 3
    assert limiter.acquire([("b", limit)], 3) == ("b", 7.0)
    assert admitted(limiter, limit, [10]) == [True], "the arrival at 0 left (t-10, t]"
    refused = limiter.acquire([("b", limit)], 10.5)
    assert refused is not None
    assert refused[1] == pytest.approx(0.5)


def test_fixed_windows_reset_on_multiples_of_the_period() -> None:
    limit = RateLimit(3, 10.0)
    limiter = WindowLimiter("fixed")
    assert admitted(limiter, limit, [8, 9, 9.5]) == [True] * 3
    refused = limiter.acquire([("b", limit)], 9.9)
    assert refused is not None
    assert refused[1] == pytest.approx(0.1)
    # A burst across the boundary: 6 arrivals in 2.2 s, which sliding windows forbid.
    assert admitted(limiter, limit, [10, 10.1, 10.2]) == [True] * 3
    sliding = WindowLimiter("sliding")
    assert admitted(sliding, limit, [8, 9, 9.5, 10, 10.1, 10.2]) == [True] * 3 + [False] * 3


def test_sliding_property_under_random_traffic() -> None:
    limit = RateLimit(5, 7.0)
    limiter = WindowLimiter("sliding")
    rng = random.Random(42)
    t, accepted = 0.0, []
    for _ in range(2000):
        t += rng.expovariate(2.0)
        if limiter.acquire([("b", limit)], t) is None:
            accepted.append(t)
    for i, start in enumerate(accepted):
        in_window = [a for a in accepted[i:] if a < start + limit.period]
        assert len(in_window) <= limit.calls
    assert len(accepted) > 2000 * 5 / (2.0 * 7.0) * 0.5, "not starved either"


def test_refused_arrivals_are_not_counted_and_buckets_are_charged_together() -> None:
    limiter = WindowLimiter("sliding")
    one = RateLimit(1, 10.0)
    plenty = RateLimit(100, 10.0)
    assert limiter.acquire([("ip", one), ("key", plenty)], 0) is None
    for t in (1, 2, 3):
        assert limiter.acquire([("ip", one), ("key", plenty)], t) == ("ip", 10 - t)
    # Only the admitted arrival was charged to the key bucket: 99 more fit, not 96.
    key_results = [limiter.acquire([("key", plenty)], 4) is None for _ in range(100)]
    assert key_results == [True] * 99 + [False]
    limiter.reset()
    assert limiter.acquire([("ip", one)], 5) is None


def test_key_bucket_was_not_charged_by_refusals() -> None:
    limiter = WindowLimiter("sliding")
    ip, key = RateLimit(2, 10.0), RateLimit(3, 10.0)
    assert limiter.acquire([("ip", ip), ("key", key)], 0) is None
    assert limiter.acquire([("ip", ip), ("key", key)], 0) is None
    assert limiter.acquire([("ip", ip), ("key", key)], 0) is not None
    # The third request was refused by the IP window and left the key window untouched.
    assert limiter.acquire([("key", key)], 0) is None
    assert limiter.acquire([("key", key)], 0) is not None


def test_sliding_window_counts_a_late_handled_arrival_at_its_arrival_time() -> None:
    limit = RateLimit(3, 1.0)
    limiter = WindowLimiter("sliding")
    assert admitted(limiter, limit, [1.10, 1.15, 1.20]) == [True] * 3
    # Arrived at 0.95, handled after the three others: (0.95, 1.95] would hold four.
    refused = limiter.acquire([("b", limit)], 0.95)
    assert refused is not None
    # It could only get through once 1.10 had left the window, at 2.10.
    assert refused[1] == pytest.approx(1.15)
    assert admitted(limiter, limit, [0.05]) == [True], "(0.05, 1.05] holds none"
    assert admitted(limiter, limit, [1.25, 2.09, 2.10]) == [False, False, True]


def test_fixed_windows_keep_every_windows_count() -> None:
    limit = RateLimit(3, 1.0)
    limiter = WindowLimiter("fixed")
    assert admitted(limiter, limit, [1.10, 1.15, 1.20]) == [True] * 3
    # A late arrival from the previous window counts there, not as a new latest window.
    assert admitted(limiter, limit, [0.95]) == [True]
    assert admitted(limiter, limit, [1.25, 1.30, 1.35]) == [False] * 3
    assert admitted(limiter, limit, [0.96, 0.97, 0.98]) == [True, True, False]


def test_sliding_property_holds_for_shuffled_arrivals() -> None:
    limit = RateLimit(4, 5.0)
    limiter = WindowLimiter("sliding")
    rng = random.Random(7)
    times = sorted(rng.uniform(0, 100) for _ in range(600))
    # Handle each arrival up to 2 s late, in a shuffled order.
    order = sorted(times, key=lambda t: t + rng.uniform(0, 2.0))
    accepted = sorted(t for t in order if limiter.acquire([("b", limit)], t) is None)
    for i, start in enumerate(accepted):
        assert len([a for a in accepted[i:] if a < start + limit.period]) <= limit.calls
    assert len(accepted) > 100 / 5.0 * 4 * 0.5, "not starved either"


@pytest.mark.parametrize(
    ("wait", "header"), [(0.0, "1"), (0.2, "1"), (1.0, "1"), (6.2, "7"), (59.999, "60")]
)
def test_retry_after_is_whole_seconds_rounded_up(wait: float, header: str) -> None:
    assert retry_after_header(wait) == header


def test_bad_limits_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError):
        RateLimit(0, 10)
    with pytest.raises(ConfigurationError):
        RateLimit(1, 0)
    with pytest.raises(ConfigurationError):
        SandboxConfig(key_limits={"serch": RateLimit(1, 1)})
    with pytest.raises(ConfigurationError):
        SandboxConfig(rate_limit_mode="leaky")  # type: ignore[arg-type]


# --- on the wire ---------------------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1005.0, auto_advance=False)


async def statuses(session: aiohttp.ClientSession, url: str, n: int, **kw: object) -> list[int]:
    out = []
    for _ in range(n):
        async with session.get(url, **kw) as response:  # type: ignore[arg-type]
            out.append(response.status)
    return out


def make_config(
    clock: FakeClock,
    *,
    key: Mapping[str, RateLimit] | None = None,
    ip: Mapping[str, RateLimit] | None = None,
    mode: str = "sliding",
) -> SandboxConfig:
    # Per-endpoint windows work alike in both profiles; the docs one has no key-wide budget to
    # mix in (that one is tested in test_sandbox_live.py).
    return SandboxConfig(
        profile="docs",
        clock=clock,
        key_limits=key or {},
        ip_limits=ip or {},
        rate_limit_mode=mode,  # type: ignore[arg-type]
        trust_forwarded_for=True,
    )


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.mark.integration
async def test_key_limit_answers_429_with_retry_after(
    clock: FakeClock, session: aiohttp.ClientSession
) -> None:
    config = make_config(clock, key={"search": RateLimit(2, 10)})
    async with SandboxServer(config) as sandbox:
        url = f"{sandbox.base_url}/api/external?apikey={sandbox.api_key}"
        assert await statuses(session, url, 2) == [200, 200]
        clock.advance(3)
        async with session.get(url) as response:
            assert response.status == 429
            assert response.headers["Retry-After"] == "7"
            assert response.content_type == "application/json"
            assert (await response.json())["error"]
        assert sandbox.throttled == {("search", "key"): 1}
        # Meta has no limit configured.
        assert await statuses(session, url.replace("external?", "external/meta?"), 5) == [200] * 5
        clock.advance(7)
        assert await statuses(session, url, 2) == [200, 200]
        assert sandbox.throttled_total == 1


@pytest.mark.integration
async def test_fixed_mode_retry_after_points_at_the_next_window(
    clock: FakeClock, session: aiohttp.ClientSession
) -> None:
    # The clock reads 1005: the current window is [1000, 1010).
    config = make_config(clock, key={"search": RateLimit(2, 10)}, mode="fixed")
    async with SandboxServer(config) as sandbox:
        url = f"{sandbox.base_url}/api/external?apikey={sandbox.api_key}"
        assert await statuses(session, url, 3) == [200, 200, 429]
        assert sandbox.requests[-1].status == 429
        async with session.get(url) as response:
            assert response.headers["Retry-After"] == "5"
        clock.advance(5)
        assert await statuses(session, url, 3) == [200, 200, 429]


@pytest.mark.integration
async def test_keys_have_separate_windows(clock: FakeClock, session: aiohttp.ClientSession) -> None:
    config = make_config(clock, key={"download": RateLimit(1, 60)})
    async with SandboxServer(config) as sandbox:
        torrent = next(t for t in sandbox.catalogue if t.approved)
        url = f"{sandbox.base_url}/api/torrents/download/{torrent.info_hash}"
        other = sandbox.add_key("bob")
        assert await statuses(session, url, 2, headers={"X-Api-Key": sandbox.api_key}) == [
            200,
            429,
        ]
        assert await statuses(session, url, 1, headers={"X-Api-Key": other}) == [200]
        assert sandbox.throttled == {("download", "key"): 1}


@pytest.mark.integration
async def test_ip_limit_is_shared_by_keys_and_counts_bad_keys(
    clock: FakeClock, session: aiohttp.ClientSession
) -> None:
    config = make_config(clock, ip={"search": RateLimit(3, 60)})
    async with SandboxServer(config) as sandbox:
        url = f"{sandbox.base_url}/api/external"
        alice, bob = sandbox.add_key("alice"), sandbox.add_key("bob")
        assert await statuses(session, url, 1, headers={"X-Api-Key": "guess"}) == [403]
        assert await statuses(session, url, 1, headers={"X-Api-Key": alice}) == [200]
        assert await statuses(session, url, 2, headers={"X-Api-Key": bob}) == [200, 429]
        assert await statuses(session, url, 1) == [429], "even without a key"
        assert sandbox.throttled == {("search", "ip"): 2}
        # Another client address has its own window.
        other_ip = {"X-Api-Key": bob, "X-Forwarded-For": "203.0.113.9, 10.0.0.1"}
        assert await statuses(session, url, 1, headers=other_ip) == [200]
        assert sandbox.requests[-1].client_ip == "203.0.113.9"


@pytest.mark.integration
async def test_forwarded_for_is_ignored_unless_trusted(session: aiohttp.ClientSession) -> None:
    async with SandboxServer(
        SandboxConfig(ip_limits={"meta": RateLimit(1, 60)}, profile="docs")
    ) as sandbox:
        url = f"{sandbox.base_url}/api/external/meta?apikey={sandbox.api_key}"
        spoofed = {"X-Forwarded-For": "198.51.100.1"}
        assert await statuses(session, url, 1) == [200]
        assert await statuses(session, url, 1, headers=spoofed) == [429]
        assert sandbox.requests[-1].client_ip == "127.0.0.1"


@pytest.mark.integration
@pytest.mark.parametrize("mode", ["sliding", "fixed"])
async def test_requests_are_counted_when_they_arrive_not_when_handled(
    clock: FakeClock, session: aiohttp.ClientSession, mode: str
) -> None:
    config = make_config(clock, key={"search": RateLimit(3, 10)}, mode=mode)
    async with SandboxServer(config) as sandbox:
        sandbox.faults.add(Fault.slow(2.0), endpoint="search")
        url = f"{sandbox.base_url}/api/external?apikey={sandbox.api_key}"

        async def first() -> int:
            async with session.get(url, params={"q": "slow"}) as response:
                return response.status

        slow = asyncio.create_task(first())
        try:
            for _ in range(500):
                if clock.sleepers:
                    break
                await asyncio.sleep(0.002)
            assert clock.sleepers == 1
            clock.advance(0.5)
            # The slow request arrived first: it holds one of the three places.
            assert await statuses(session, url, 3) == [200, 200, 429]
            clock.advance(2.0)
            assert await slow == 200
        finally:
            slow.cancel()
        assert [r.status for r in sandbox.requests].count(200) == 3
        assert sandbox.throttled_total == 1


@pytest.mark.parametrize(
    ("calls", "period"),
    [
        # Compared unchecked: a wrong type raised a raw TypeError.
        ("5", 1.0),
        (None, 1.0),
        (True, 1.0),
        (5, "1"),
        (5, None),
        (5, float("inf")),
        (5, float("nan")),
        (5, 365 * 86_400.0 + 1),
        pytest.param(10**5000, 1.0, id="calls=10**5000"),
        pytest.param(5, 10**5000, id="period=10**5000"),
    ],
)
def test_rate_limit_is_checked_like_the_clients_rates(calls: object, period: object) -> None:
    with pytest.raises(ConfigurationError, match="RateLimit: ") as info:
        RateLimit(calls, period)  # type: ignore[arg-type]
    assert len(str(info.value)) < 200


def test_window_limiter_quotes_a_huge_mode_without_raising() -> None:
    with pytest.raises(ConfigurationError, match="an int of"):
        WindowLimiter(10**5000)  # type: ignore[arg-type]
