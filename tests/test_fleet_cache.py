"""RedisCache and its codec: round-trips, TTL, clear by scope, and the cross-process fill lock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import msgspec
import pytest

redis = pytest.importorskip("redis")

from conftest import META_JSON, torrent_json  # noqa: E402

from lacale_async import Meta, MonotonicClock, Torrent  # noqa: E402
from lacale_async._models import decode_meta, decode_search  # noqa: E402
from lacale_async.fleet import RedisBackend, RedisCache  # noqa: E402
from lacale_async.fleet._codec import CODECS, CodecError  # noqa: E402

if TYPE_CHECKING:
    from _redis import RedisFactory, ReplyDelayProxy

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


def test_codec_refuses_a_reply_that_is_no_entry_and_a_tree_nested_too_deep() -> None:
    with pytest.raises(CodecError):
        CODECS["meta"].decode([])  # type: ignore[arg-type]  # what a junk reply may give
    deep = b'{"id": "c", "name": "n", "slug": "s", "children": [' * 3000 + b"]}" * 3000
    with pytest.raises(CodecError):
        CODECS["meta"].decode(b'lc1:{"categories": [' + deep + b"]}")


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


async def overwritten_is_a_miss(cache: Any, redis_url: str, prefix: str, data: bytes) -> None:
    """Store an entry, overwrite it with ``data``: it must read as a miss and be removed."""
    await cache.set("k", TORRENTS, 30)
    raw = redis.asyncio.Redis.from_url(redis_url)
    try:
        (key,) = [k async for k in raw.scan_iter(match=f"{prefix}:*:c:search:*")]
        await raw.set(key, data, px=30_000)
        assert await cache.get("k") is None
        assert await raw.exists(key) == 0
    finally:
        await raw.aclose()


async def test_an_unreadable_entry_is_a_miss_and_is_removed(
    backends: list[RedisBackend], redis_url: str, redis_prefix: str
) -> None:
    await overwritten_is_a_miss(
        cache_of(backends[0]), redis_url, redis_prefix, b"lc9:from a future version"
    )


async def test_an_entry_that_is_not_utf8_is_a_miss_for_a_decoding_client(
    redis_url: str, redis_prefix: str
) -> None:
    client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
    try:
        async with RedisBackend(client, prefix=redis_prefix) as backend:
            cache = cache_of(backend)
            await overwritten_is_a_miss(cache, redis_url, redis_prefix, b"lc1:\xff\xfe not UTF-8")
    finally:
        await client.aclose()


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


async def test_a_holder_that_lost_its_lock_never_touches_the_next_one(
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
                (lock,) = [k async for k in raw.scan_iter(match=pattern)]
                await raw.delete(lock)  # lost, as when Redis was unreachable to renew it
                second = cache_of(other).fill("k")
                assert await second.__aenter__() is None  # took the lock over
                taken = await raw.get(lock)
                await asyncio.sleep(0.2)  # the slow holder's renewer ticks meanwhile
            # The slow holder left: the other's lock is still there, still the other's.
            assert await raw.get(lock) == taken
            await asyncio.sleep(0.25)  # longer than lock_timeout: the other renews its own
            assert await raw.get(lock) == taken
            await second.__aexit__(None, None, None)
            assert [k async for k in raw.scan_iter(match=pattern)] == []
        finally:
            await raw.aclose()


async def test_a_holder_queued_longer_than_lock_timeout_keeps_its_lock(
    redis_url: str, redis_prefix: str
) -> None:
    loop = asyncio.get_running_loop()
    async with (
        RedisBackend(redis_url, prefix=redis_prefix, lock_timeout=0.2) as one,
        RedisBackend(redis_url, prefix=redis_prefix, lock_timeout=0.2) as two,
    ):
        holding = asyncio.Event()

        async def slow_fetch() -> None:
            async with cache_of(one).fill("k") as filled:
                assert filled is None
                holding.set()
                await asyncio.sleep(0.7)  # queued on the rate limiter, then the request
                await cache_of(one).set("k", TORRENTS, 30)

        task = asyncio.create_task(slow_fetch())
        await holding.wait()
        start = loop.time()
        async with cache_of(two).fill("k") as filled:
            # The holder is alive: its lock never expired, so nobody fetched a second time.
            assert filled == TORRENTS
            assert loop.time() - start >= 0.5
        await task


async def until_lock_is(raw: Any, present: bool, within: float = 1.0) -> None:
    """Poll Redis (directly, not through the proxy) until a fill lock is there, or gone."""
    for _ in range(int(within / 0.005)):
        if bool([k async for k in raw.scan_iter(match="p:*:lock:*")]) == present:
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"the fill lock is still {'absent' if present else 'there'}")


async def test_a_cancelled_caller_leaves_no_lock_behind(
    redis_factory: RedisFactory, reply_delay_proxy: type[ReplyDelayProxy]
) -> None:
    with redis_factory() as server:
        async with (
            reply_delay_proxy(server.port, delay=0.05) as proxy,
            RedisBackend(proxy.url(), prefix="p", lock_timeout=5.0) as backend,
        ):
            raw = redis.asyncio.Redis(port=server.port)
            try:
                task = asyncio.create_task(cache_of(backend).fill("k").__aenter__())
                await until_lock_is(raw, True)
                # The lock is taken in Redis; its reply is still on the way: cancel now.
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                await until_lock_is(raw, False)  # given back once the reply came in
            finally:
                await raw.aclose()


async def test_a_lock_whose_reply_was_lost_is_found_ours_on_retry(
    redis_factory: RedisFactory, reply_delay_proxy: type[ReplyDelayProxy]
) -> None:
    loop = asyncio.get_running_loop()
    with redis_factory() as server:
        async with (
            reply_delay_proxy(server.port, delay=0.05) as proxy,
            RedisBackend(proxy.url(), prefix="p", lock_timeout=5.0) as backend,
        ):
            raw = redis.asyncio.Redis(port=server.port)
            try:
                start = loop.time()
                fill = cache_of(backend).fill("k")
                task = asyncio.create_task(fill.__aenter__())
                await until_lock_is(raw, True)
                proxy.cut_next_reply()  # redis-py reconnects and sends the command again
                # The resent command finds the lock ours: no wait for it to expire.
                assert await task is None
                assert loop.time() - start < 2.0
                await fill.__aexit__(None, None, None)
                assert [k async for k in raw.scan_iter(match="p:*:lock:*")] == []
            finally:
                await raw.aclose()
