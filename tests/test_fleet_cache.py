"""RedisCache and its codec: round-trips, TTL, clear by scope, and the cross-process fill lock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest

redis = pytest.importorskip("redis")

from conftest import META_JSON, torrent_json  # noqa: E402

from lacale_async import Meta, MonotonicClock, Torrent  # noqa: E402
from lacale_async._models import decode_meta, decode_search  # noqa: E402
from lacale_async.fleet import RedisBackend, RedisCache  # noqa: E402
from lacale_async.fleet._codec import CODECS, CodecError  # noqa: E402

pytest_plugins = ["_redis"]
pytestmark = pytest.mark.redis

CLOCK = MonotonicClock()
SCOPE = "c" * 64
OTHER_SCOPE = "d" * 64
TORRENTS: tuple[Torrent, ...] = tuple(
    decode_search(msgspec.json.encode([torrent_json(i) for i in range(3)]))
)
META: Meta = decode_meta(msgspec.json.encode(META_JSON))


# -- codec (no Redis needed) -----------------------------------------------------------------


def test_codec_round_trips_torrents_and_meta() -> None:
    search, meta = CODECS["search"], CODECS["meta"]
    assert search.decode(search.encode(TORRENTS)) == TORRENTS
    assert meta.decode(meta.encode(META)) == META
    assert meta.decode(meta.encode(META).decode()) == META  # str from decode_responses=True


@pytest.mark.parametrize("data", [b"", b"{}", b"lc0:[]", b"lc1:not json", b'lc1:{"categories": 5}'])
def test_codec_refuses_foreign_or_corrupt_entries(data: bytes) -> None:
    with pytest.raises(CodecError):
        CODECS["meta"].decode(data)


# -- against Redis ---------------------------------------------------------------------------


@pytest.fixture
async def backends(redis_url: str, redis_prefix: str) -> AsyncIterator[list[RedisBackend]]:
    async with (
        RedisBackend(redis_url, prefix=redis_prefix, lock_timeout=2.0) as one,
        RedisBackend(redis_url, prefix=redis_prefix, lock_timeout=2.0) as two,
    ):
        yield [one, two]


def cache_of(backend: RedisBackend, namespace: str = "search", scope: str = SCOPE) -> Any:
    cache = backend.cache(scope=scope, namespace=namespace, max_entries=8, clock=CLOCK)
    assert isinstance(cache, RedisCache)
    return cache


async def test_values_written_by_one_backend_are_read_by_another(
    backends: list[RedisBackend],
) -> None:
    one, two = backends
    await cache_of(one).set("k", TORRENTS, 30)
    await cache_of(one, "meta").set("meta", META, 30)
    got = await cache_of(two).get("k")
    assert got == TORRENTS
    assert isinstance(got, tuple)
    assert all(isinstance(t, Torrent) for t in got)
    assert got[0].pub_date.tzinfo is not None
    assert await cache_of(two, "meta").get("meta") == META
    assert await cache_of(two).get("absent") is None


async def test_entries_expire_with_their_ttl(
    backends: list[RedisBackend], redis_url: str, redis_prefix: str
) -> None:
    cache = cache_of(backends[0])
    await cache.set("short", TORRENTS, 0.15)
    await cache.set("long", TORRENTS, 30)
    raw = redis.asyncio.Redis.from_url(redis_url)
    try:
        ttls = [await raw.pttl(k) async for k in raw.scan_iter(match=f"{redis_prefix}:*:c:*")]
    finally:
        await raw.aclose()
    assert sorted(ttls)[0] <= 150
    assert 29_000 < sorted(ttls)[1] <= 30_000
    assert await cache.get("short") == TORRENTS
    await asyncio.sleep(0.25)
    assert await cache.get("short") is None
    assert await cache.get("long") == TORRENTS


async def test_zero_ttl_stores_nothing_and_forgets_the_old_value(
    backends: list[RedisBackend],
) -> None:
    cache = cache_of(backends[0])
    await cache.set("k", TORRENTS, 30)
    await cache.set("k", (), 0)
    assert await cache.get("k") is None
    await cache.set("k", TORRENTS, float("nan"))
    assert await cache.get("k") is None


async def test_delete_and_clear_touch_only_their_scope_and_namespace(
    backends: list[RedisBackend],
) -> None:
    one, two = backends
    search, meta = cache_of(one), cache_of(one, "meta")
    other_scope = cache_of(one, scope=OTHER_SCOPE)
    for i in range(3):
        await search.set(f"k{i}", TORRENTS, 30)
    await meta.set("meta", META, 30)
    await other_scope.set("k0", TORRENTS, 30)
    await cache_of(two).delete("k1")
    assert await search.get("k1") is None
    await cache_of(two).clear()
    assert await search.get("k0") is None
    assert await search.get("k2") is None
    assert await meta.get("meta") == META
    assert await other_scope.get("k0") == TORRENTS


async def test_an_unreadable_entry_is_a_miss_and_is_removed(
    backends: list[RedisBackend], redis_url: str, redis_prefix: str
) -> None:
    cache = cache_of(backends[0])
    await cache.set("k", TORRENTS, 30)
    raw = redis.asyncio.Redis.from_url(redis_url)
    try:
        (key,) = [k async for k in raw.scan_iter(match=f"{redis_prefix}:*:c:search:*")]
        await raw.set(key, b"lc9:from a future version", px=30_000)
        assert await cache.get("k") is None
        assert await raw.exists(key) == 0
    finally:
        await raw.aclose()


async def test_fill_lets_one_process_fetch_for_all(backends: list[RedisBackend]) -> None:
    caches = [cache_of(b) for b in backends]
    fetches = 0

    async def get_or_fetch(cache: Any) -> tuple[Torrent, ...]:
        nonlocal fetches
        async with cache.fill("k") as filled:
            if filled is not None:
                return filled  # type: ignore[no-any-return]
            fetches += 1
            await asyncio.sleep(0.2)  # the request
            await cache.set("k", TORRENTS, 30)
            return TORRENTS

    results = await asyncio.gather(*(get_or_fetch(caches[i % 2]) for i in range(6)))
    assert fetches == 1
    assert all(r == TORRENTS for r in results)


async def test_a_failed_fetch_hands_over_to_a_waiter(backends: list[RedisBackend]) -> None:
    first, second = (cache_of(b) for b in backends)
    loop = asyncio.get_running_loop()
    holding = asyncio.Event()

    async def failing() -> None:
        async with first.fill("k") as filled:
            assert filled is None
            holding.set()
            await asyncio.sleep(0.1)
            raise RuntimeError("the tracker was down")

    task = asyncio.create_task(failing())
    await holding.wait()
    start = loop.time()
    async with second.fill("k") as filled:
        # The holder released its lock when it failed: no wait for lock_timeout.
        assert filled is None
        assert loop.time() - start < 1.0
    with pytest.raises(RuntimeError):
        await task


async def test_a_dead_holder_is_replaced_when_its_lock_expires(
    backends: list[RedisBackend], redis_url: str, redis_prefix: str
) -> None:
    loop = asyncio.get_running_loop()
    raw = redis.asyncio.Redis.from_url(redis_url)
    try:
        async with cache_of(backends[0]).fill("k"):
            (lock,) = [k async for k in raw.scan_iter(match=f"{redis_prefix}:*:lock:*")]
        # Another process takes the lock and dies: it never stores a value nor unlocks.
        await raw.set(lock, b"token-of-a-dead-process", px=300)
    finally:
        await raw.aclose()
    start = loop.time()
    async with cache_of(backends[1]).fill("k") as filled:
        waited = loop.time() - start
        assert filled is None
    assert 0.2 <= waited <= 1.0


async def test_a_holder_that_outlived_its_lock_never_frees_the_next_one(
    redis_url: str, redis_prefix: str
) -> None:
    async with (
        RedisBackend(redis_url, prefix=redis_prefix, lock_timeout=0.2) as slow,
        RedisBackend(redis_url, prefix=redis_prefix, lock_timeout=0.2) as other,
    ):
        raw = redis.asyncio.Redis.from_url(redis_url)
        pattern = f"{redis_prefix}:*:lock:search:*"
        try:
            async with cache_of(slow).fill("k") as filled:
                assert filled is None
                await asyncio.sleep(0.3)  # the lock expired meanwhile
                second = cache_of(other).fill("k")
                assert await second.__aenter__() is None  # took the lock over
            # The slow holder left: the other's lock must still be there.
            assert len([k async for k in raw.scan_iter(match=pattern)]) == 1
            await second.__aexit__(None, None, None)
            assert [k async for k in raw.scan_iter(match=pattern)] == []
        finally:
            await raw.aclose()
