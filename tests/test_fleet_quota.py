"""RedisLedger against a real Redis: the key-wide budget shared by a fleet, on Redis's clock."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest

redis = pytest.importorskip("redis")

from aioresponses import aioresponses  # noqa: E402
from conftest import API_KEY, BASE  # noqa: E402

import lacale_async as la  # noqa: E402
from lacale_async import LaCaleClient  # noqa: E402
from lacale_async._ledger import Grant, Refusal, Span  # noqa: E402
from lacale_async.fleet import RedisBackend, RedisLedger  # noqa: E402

pytest_plugins = ["_redis"]
pytestmark = pytest.mark.redis

SEARCH = re.compile(r"^https://tracker\.test/api/external(\?.*)?$")
SCOPE = "q" * 64
SPANS: list[Span] = [(3, 1.0, 1.02), (5, 3600.0, 3600.25)]


@pytest.fixture
def mock() -> Iterator[aioresponses]:
    # Redis itself must stay reachable: only the tracker is faked.
    with aioresponses(passthrough=["unix://", "redis://", "http://127.0.0.1"]) as m:
        yield m


def three_an_hour(backend: RedisBackend) -> LaCaleClient:
    """A client whose key budget is 3 requests an hour, on ``backend``, with no cache."""
    return LaCaleClient(
        API_KEY, base_url=BASE, backend=backend, search_rate=None, cache_ttl=0, key_rate=(3, 3600.0)
    )


def ledger(backend: RedisBackend) -> RedisLedger:
    return backend.key_ledger(scope=SCOPE, clock=la.MonotonicClock(), store=None)


async def test_the_fleet_shares_every_window(backends: list[RedisBackend]) -> None:
    a, b = ledger(backends[0]), ledger(backends[1])
    grants = [await x.take(SPANS, 30.0) for x in (a, b, a)]
    assert all(isinstance(g, Grant) for g in grants)
    refusal = await b.take(SPANS, 30.0)
    assert isinstance(refusal, Refusal)
    assert refusal.wait is None  # all 3 of the second's window in flight, in two processes
    assert refusal.poll is not None
    for x, grant in zip((a, b, a), grants, strict=True):
        assert isinstance(grant, Grant)
        await x.give_back(grant, counted=True)
    refusal = await b.take(SPANS, 30.0)
    assert isinstance(refusal, Refusal)
    assert refusal.binding == 0
    assert refusal.wait is not None
    assert 0.9 < refusal.wait <= 1.02
    await asyncio.sleep(refusal.wait)
    assert isinstance(await a.take(SPANS, 30.0), Grant)
    assert isinstance(await b.take(SPANS, 30.0), Grant)
    refusal = await a.take(SPANS, 30.0)
    assert isinstance(refusal, Refusal)
    assert refusal.binding in (0, 1)
    usage = await b.usage(SPANS)
    assert usage.windows[1][0] == 5


async def test_a_unit_that_never_left_is_given_back(backends: list[RedisBackend]) -> None:
    a = ledger(backends[0])
    grant = await a.take(SPANS, 30.0)
    assert isinstance(grant, Grant)
    await a.give_back(grant, counted=False)
    usage = await a.usage(SPANS)
    assert usage.windows[1][0] == 0


async def test_a_pause_is_shared_by_the_fleet(backends: list[RedisBackend]) -> None:
    a, b = ledger(backends[0]), ledger(backends[1])
    assert await a.pause(600.0) is False
    assert await b.pause(10.0) is True
    refusal = await b.take(SPANS, 30.0)
    assert isinstance(refusal, Refusal)
    assert refusal.binding == -1
    assert refusal.wait == pytest.approx(600.0, abs=1.0)


@pytest.mark.parametrize("junk", [b"garbage", b"inf", b"1e400"])
async def test_a_corrupt_pause_key_is_a_backend_error(
    backends: list[RedisBackend], redis_url: str, redis_prefix: str, junk: bytes
) -> None:
    a = ledger(backends[0])
    await a.pause(600.0)
    with redis.Redis.from_url(redis_url) as raw:
        (key,) = list(raw.scan_iter(match=f"{redis_prefix}:*kb:pause"))
        raw.set(key, junk)
    with pytest.raises(la.BackendError, match="not a usable number"):
        await a.usage(SPANS)
    with pytest.raises(la.BackendError):  # the script itself may refuse it first
        await a.take(SPANS, 30.0)


async def test_a_client_on_the_fleet_spends_and_reports_the_shared_budget(
    backends: list[RedisBackend], mock: aioresponses
) -> None:
    mock.get(SEARCH, payload=[], repeat=True)
    options: dict[str, Any] = {
        "base_url": BASE,
        "search_rate": None,
        "cache_ttl": 0,
        "key_rate": [(50, 60.0), (4, 3600.0)],
    }
    async with (
        LaCaleClient(API_KEY, backend=backends[0], **options) as one,
        LaCaleClient(API_KEY, backend=backends[1], **options) as two,
    ):
        await asyncio.gather(one.search("a"), two.search("b"), one.search("c"), two.search("d"))
        with pytest.raises(la.QuotaExceededError, match="Redis"):
            await one.search("e")
        quota = await two.quota()
    assert quota.remaining == 0
    assert quota.windows[1].used == 4
    assert quota.store.startswith("Redis at")


def test_quota_store_does_not_apply_to_a_fleet(redis_url: str) -> None:
    backend = RedisBackend(redis_url)
    with pytest.raises(la.ConfigurationError, match="quota_store does not apply"):
        LaCaleClient(API_KEY, base_url=BASE, backend=backend, quota_store="/tmp/q.sqlite3")
    LaCaleClient(API_KEY, base_url=BASE, backend=backend)  # "auto" (the default) is fine


async def test_under_local_a_dead_redis_leaves_the_budget_this_process_counted(
    redis_factory: Any, mock: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    mock.get(SEARCH, payload=[], repeat=True)
    with redis_factory() as server:
        async with (
            RedisBackend(server.url, on_redis_error="local", timeout=1.0) as backend,
            three_an_hour(backend) as client,
        ):
            await client.search("a")
            await client.search("b")
            server.kill()
            await client.search("c")  # Redis is gone: the mirror knows of a and b
            with pytest.raises(la.QuotaExceededError):
                await client.search("d")  # never a silent full budget
            assert (await client.quota()).store.startswith("memory")
    assert "on_redis_error='local'" in caplog.text


async def test_a_flushall_never_resets_the_budget_this_process_spent(
    redis_factory: Any, mock: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    # A Redis that forgets the budget (FLUSHALL, an eviction, a restart without persistence)
    # would let every process spend its day again: the key's ban the SDK is there to avoid.
    mock.get(SEARCH, payload=[], repeat=True)
    caplog.set_level(logging.WARNING, logger="lacale_async.fleet")
    with redis_factory() as server:
        async with (
            RedisBackend(server.url, timeout=1.0) as backend,
            three_an_hour(backend) as client,
        ):
            for query in ("a", "b", "c"):
                await client.search(query)
            with redis.Redis.from_url(server.url) as raw:
                raw.flushall()
            for query in ("d", "e"):
                with pytest.raises(la.QuotaExceededError):
                    await client.search(query)  # nothing sent: the day is spent
            assert (await client.quota()).windows[0].used == 3  # as it decides, it reports
            with redis.Redis.from_url(server.url) as raw:
                assert raw.dbsize() == 0  # the unit Redis granted was given back, uncounted
    sent = sum(len(calls) for calls in (mock.requests or {}).values())
    assert sent == 3
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "lost the key-wide budget" in warning


async def test_after_a_flushall_quota_reports_what_this_process_spent(
    redis_factory: Any, mock: aioresponses
) -> None:
    mock.get(SEARCH, payload=[], repeat=True)
    with redis_factory() as server:
        async with (
            RedisBackend(server.url, timeout=1.0) as backend,
            three_an_hour(backend) as client,
        ):
            await client.search("a")
            await client.search("b")
            with redis.Redis.from_url(server.url) as raw:
                raw.flushall()
            quota = await client.quota()
            assert quota.windows[0].used == 2  # not 0: Redis forgot, this process did not
            assert quota.remaining == 1
            await client.search("c")
            with pytest.raises(la.QuotaExceededError):
                await client.search("d")
