"""MemoryCache (TTL + LRU on a fake clock), ttl_from_headers, and LocalBackend's caches."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from lacale_async._cache import Cache, MemoryCache, ttl_from_headers
from lacale_async._clock import FakeClock
from lacale_async._errors import ConfigurationError
from lacale_async._stores import LocalBackend


async def test_entries_expire_after_their_ttl() -> None:
    clock = FakeClock(auto_advance=False)
    cache: MemoryCache[str] = MemoryCache(clock=clock)
    await cache.set("a", "A", 10.0)
    await cache.set("b", "B", 30.0)
    clock.advance(9.999)
    assert await cache.get("a") == "A"
    clock.advance(0.001)  # exactly at expiry: gone
    assert await cache.get("a") is None
    assert await cache.get("b") == "B"
    assert len(cache) == 1
    clock.advance(20.0)
    assert await cache.get("b") is None
    assert len(cache) == 0


async def test_hit_returns_the_stored_object_itself() -> None:
    cache: MemoryCache[list[int]] = MemoryCache(clock=FakeClock())
    value = [1, 2, 3]
    await cache.set("k", value, 5.0)
    assert await cache.get("k") is value  # no copy, no re-decoding


async def test_lru_bound_drops_least_recently_used_first() -> None:
    cache: MemoryCache[int] = MemoryCache(max_entries=3, clock=FakeClock())
    for i, key in enumerate("abc"):
        await cache.set(key, i, 60.0)
    assert await cache.get("a") == 0  # "a" is now the most recently used
    await cache.set("d", 3, 60.0)  # evicts "b", the least recently used
    assert len(cache) == 3
    assert await cache.get("b") is None
    assert [await cache.get(k) for k in "acd"] == [0, 2, 3]
    await cache.set("c", 20, 60.0)  # overwriting refreshes recency, no eviction
    await cache.set("e", 4, 60.0)  # evicts "a" (used before "d" and "c")
    assert await cache.get("a") is None
    assert [await cache.get(k) for k in "cde"] == [20, 3, 4]


async def test_expired_entries_make_room_before_live_ones_are_evicted() -> None:
    clock = FakeClock(auto_advance=False)
    cache: MemoryCache[str] = MemoryCache(max_entries=2, clock=clock)
    await cache.set("old", "o", 1.0)
    await cache.set("live", "l", 100.0)
    await cache.get("old")
    clock.advance(5.0)
    await cache.set("new", "n", 100.0)  # "old" expired: dropped instead of the LRU "live"
    assert await cache.get("live") == "l"
    assert await cache.get("new") == "n"


@pytest.mark.parametrize("ttl", [0.0, -1.0, float("nan")])
async def test_non_positive_ttl_stores_nothing_and_forgets_the_stale_value(ttl: float) -> None:
    cache: MemoryCache[str] = MemoryCache(clock=FakeClock())
    await cache.set("k", "old", 60.0)
    await cache.set("k", "new", ttl)
    assert await cache.get("k") is None
    assert len(cache) == 0


async def test_delete_and_clear() -> None:
    cache: MemoryCache[int] = MemoryCache(clock=FakeClock())
    await cache.set("a", 1, 5.0)
    await cache.set("b", 2, 5.0)
    await cache.delete("a")
    await cache.delete("missing")
    assert await cache.get("a") is None
    assert await cache.get("b") == 2
    await cache.clear()
    assert len(cache) == 0
    assert "max_entries=1024" in repr(cache)


async def test_reads_are_the_lookup_the_recency_mark_and_the_clock() -> None:
    clock = FakeClock(auto_advance=False)
    cache: MemoryCache[str] = MemoryCache(max_entries=2, clock=clock)
    lookup, touch, now = cache.reads()
    await cache.set("a", "A", 10.0)
    await cache.set("b", "B", 10.0)
    assert lookup("a") == (10.0, "A")
    assert lookup("missing") is None
    touch("a")  # "a" is now the most recently used: "b" goes first
    await cache.set("c", "C", 10.0)
    assert lookup("b") is None
    clock.advance(10.0)
    entry = lookup("a")
    assert entry is not None
    assert not entry[0] > now()  # expired: a hit path must not answer it
    assert await cache.get("a") is None  # and get() drops it
    assert lookup("a") is None


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "10"])
def test_max_entries_validated(bad: object) -> None:
    with pytest.raises(ConfigurationError):
        MemoryCache(max_entries=bad, clock=FakeClock())  # type: ignore[arg-type]


class _NowOnly:
    def now(self) -> float:
        return 0.0


@pytest.mark.parametrize("bad", [None, FakeClock, object(), _NowOnly(), 0.0])
def test_clock_must_implement_clock(bad: object) -> None:
    # clock=None once raised a raw AttributeError binding clock.now.
    with pytest.raises(ConfigurationError, match="clock must"):
        MemoryCache(clock=bad)  # type: ignore[arg-type]


async def test_local_backend_gives_each_client_its_own_memory_cache() -> None:
    backend = LocalBackend()
    clock = FakeClock()
    one = backend.cache(scope="s", namespace="search", max_entries=2, clock=clock)
    two = backend.cache(scope="s", namespace="search", max_entries=2, clock=clock)
    assert isinstance(one, MemoryCache)
    assert isinstance(one, Cache)
    assert one is not two
    assert one.max_entries == 2
    await one.set("k", "v", 10.0)
    assert await one.get("k") == "v"
    assert await two.get("k") is None


@pytest.mark.parametrize(
    ("headers", "default", "expected"),
    [
        ({}, 30.0, 30.0),
        ({"Cache-Control": "max-age=10"}, 30.0, 10.0),
        ({"Cache-Control": "public, max-age=100"}, 30.0, 30.0),  # the user's TTL caps it
        ({"Cache-Control": "max-age=30", "Age": "12"}, 60.0, 18.0),
        ({"Cache-Control": "max-age=30", "Age": "45"}, 60.0, 0.0),  # never negative
        ({"cache-control": "MAX-AGE=5", "age": "1"}, 60.0, 4.0),  # names are case-insensitive
        ({"Cache-Control": 'max-age="20"'}, 60.0, 20.0),
        ({"Cache-Control": "no-store"}, 30.0, 0.0),
        ({"Cache-Control": "max-age=60, no-cache"}, 30.0, 0.0),
        ({"Cache-Control": "private, max-age=7"}, 30.0, 7.0),
        ({"Cache-Control": "max-age=abc"}, 30.0, 0.0),  # malformed: stale (RFC 9111)
        ({"Cache-Control": "max-age=-5"}, 30.0, 0.0),
        ({"Cache-Control": "max-age=10", "Age": "junk"}, 30.0, 10.0),
        ({"Age": "10"}, 30.0, 30.0),  # Age alone says nothing about freshness
        ({"Cache-Control": "s-maxage=5"}, 30.0, 30.0),  # for shared caches, not ours
        ({"Cache-Control": "max-age=10"}, 0.0, 0.0),  # the user disabled caching
        ({"Cache-Control": "max-age=10"}, -3.0, 0.0),
    ],
)
def test_ttl_from_headers(headers: dict[str, str], default: float, expected: float) -> None:
    assert ttl_from_headers(headers, default) == expected


def test_ttl_from_headers_multidict_with_repeated_headers() -> None:
    headers: CIMultiDict[str] = CIMultiDict()
    headers.add("Cache-Control", "public")
    headers.add("cache-control", "max-age=12")
    headers.add("AGE", "2")
    assert ttl_from_headers(headers, 60.0) == 10.0
    headers.add("Cache-Control", "no-store")
    assert ttl_from_headers(headers, 60.0) == 0.0
