"""MemoryCache (TTL + LRU on a fake clock), ttl_from_headers, and LocalBackend's caches.

The cache's behaviour is the same whether its clock is read on each hit or its timers drop
expired entries: the tests that say so run in both modes.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from multidict import CIMultiDict

from lacale_async._cache import Cache, MemoryCache, ttl_from_headers
from lacale_async._clock import FakeClock, MonotonicClock
from lacale_async._errors import ConfigurationError
from lacale_async._stores import LocalBackend

MODES = pytest.mark.parametrize("timed", [False, True], ids=["clock-read", "timers"])


def _cache(clock: FakeClock, timed: bool, **options: Any) -> MemoryCache[Any]:
    return MemoryCache(clock=clock, timers=clock if timed else None, **options)


class _CountingClock(FakeClock):
    """A fake clock that counts its readings."""

    __slots__ = ("readings",)

    def __init__(self) -> None:
        super().__init__(auto_advance=False)
        self.readings = 0

    def now(self) -> float:
        self.readings += 1
        return super().now()


@MODES
async def test_entries_expire_after_their_ttl(timed: bool) -> None:
    clock = FakeClock(auto_advance=False)
    cache: MemoryCache[str] = _cache(clock, timed)
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


@MODES
async def test_hit_returns_the_stored_object_itself(timed: bool) -> None:
    cache: MemoryCache[list[int]] = _cache(FakeClock(), timed)
    value = [1, 2, 3]
    await cache.set("k", value, 5.0)
    assert await cache.get("k") is value  # no copy, no re-decoding


@MODES
async def test_lru_bound_drops_least_recently_used_first(timed: bool) -> None:
    cache: MemoryCache[int] = _cache(FakeClock(), timed, max_entries=3)
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


@MODES
async def test_expired_entries_make_room_before_live_ones_are_evicted(timed: bool) -> None:
    clock = FakeClock(auto_advance=False)
    cache: MemoryCache[str] = _cache(clock, timed, max_entries=2)
    await cache.set("old", "o", 1.0)
    await cache.set("live", "l", 100.0)
    await cache.get("old")
    clock.advance(5.0)
    await cache.set("new", "n", 100.0)  # "old" expired: dropped instead of the LRU "live"
    assert await cache.get("live") == "l"
    assert await cache.get("new") == "n"


@MODES
@pytest.mark.parametrize("ttl", [0.0, -1.0, float("nan")])
async def test_non_positive_ttl_stores_nothing_and_forgets_the_stale_value(
    ttl: float, timed: bool
) -> None:
    cache: MemoryCache[str] = _cache(FakeClock(), timed)
    await cache.set("k", "old", 60.0)
    await cache.set("k", "new", ttl)
    assert await cache.get("k") is None
    assert len(cache) == 0


@MODES
async def test_delete_and_clear(timed: bool) -> None:
    cache: MemoryCache[int] = _cache(FakeClock(), timed)
    await cache.set("a", 1, 5.0)
    await cache.set("b", 2, 5.0)
    await cache.delete("a")
    await cache.delete("missing")
    assert await cache.get("a") is None
    assert await cache.get("b") == 2
    await cache.clear()
    assert len(cache) == 0
    assert "max_entries=1024" in repr(cache)


async def test_with_timers_a_hit_reads_no_clock_and_the_timer_drops_the_entry() -> None:
    clock = _CountingClock()
    cache: MemoryCache[str] = MemoryCache(clock=clock, timers=clock)
    await cache.set("k", "v", 10.0)
    before = clock.readings
    assert await cache.get("k") == "v"
    reads = cache.reads()
    assert reads is not None
    get, _touch = reads
    assert get("k") == "v"
    assert get("missing") is None
    assert clock.readings == before  # neither get() nor the C-level reads read the clock
    clock.advance(10.0)  # the timer runs inside advance()
    assert get("k") is None
    assert len(cache) == 0


async def test_without_timers_every_hit_reads_the_clock_and_no_reads_are_offered() -> None:
    clock = _CountingClock()
    cache: MemoryCache[str] = MemoryCache(clock=clock)
    await cache.set("k", "v", 10.0)
    before = clock.readings
    assert await cache.get("k") == "v"
    assert clock.readings == before + 1
    assert cache.reads() is None


async def test_the_reads_touch_keeps_a_key_from_lru_eviction() -> None:
    clock = FakeClock(auto_advance=False)
    cache: MemoryCache[int] = MemoryCache(max_entries=2, clock=clock, timers=clock)
    await cache.set("a", 1, 60.0)
    await cache.set("b", 2, 60.0)
    reads = cache.reads()
    assert reads is not None
    get, touch = reads
    assert get("a") == 1
    touch("a")  # "a" is now the most recently used: "b" goes first
    await cache.set("c", 3, 60.0)
    assert get("b") is None
    assert (get("a"), get("c")) == (1, 3)


async def test_a_replaced_entry_keeps_the_new_ttl_not_the_old_timer() -> None:
    clock = FakeClock(auto_advance=False)
    cache: MemoryCache[str] = MemoryCache(clock=clock, timers=clock)
    await cache.set("k", "old", 10.0)
    await cache.set("k", "new", 100.0)  # the first timer is cancelled
    clock.advance(50.0)
    assert await cache.get("k") == "new"
    clock.advance(50.0)
    assert await cache.get("k") is None


@pytest.mark.parametrize("how", ["delete", "evict", "clear", "zero ttl"])
async def test_a_forgotten_entry_takes_its_timer_with_it(how: str) -> None:
    clock = FakeClock(auto_advance=False)
    cache: MemoryCache[str] = MemoryCache(max_entries=1, clock=clock, timers=clock)
    await cache.set("k", "first", 10.0)
    if how == "delete":
        await cache.delete("k")
    elif how == "evict":
        await cache.set("other", "o", 1_000.0)
        await cache.delete("other")
    elif how == "clear":
        await cache.clear()
    else:
        await cache.set("k", "ignored", 0.0)
    await cache.set("k", "second", 100.0)
    clock.advance(10.0)  # the first entry's timer, had it survived, would drop "second" here
    assert await cache.get("k") == "second"


async def test_with_the_event_loop_as_timers_the_loop_drops_the_entry() -> None:
    loop = asyncio.get_running_loop()
    cache: MemoryCache[str] = MemoryCache(clock=MonotonicClock(), timers=loop)
    await cache.set("k", "v", 0.001)
    assert await cache.get("k") == "v"
    # Waiting on the loop's own timer, not sleeping a guessed delay: the cache's timer was
    # scheduled first, so it has run once a later one fires.
    done = loop.create_future()
    loop.call_later(0.001, done.set_result, None)
    await done
    assert await cache.get("k") is None
    assert len(cache) == 0


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "10"])
def test_max_entries_validated(bad: object) -> None:
    with pytest.raises(ConfigurationError):
        MemoryCache(max_entries=bad, clock=FakeClock())  # type: ignore[arg-type]


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
    assert one.reads() is not None  # a fake clock has timers: entries expire by them
    clock.advance(10.0)
    assert await one.get("k") is None


async def test_local_backend_caches_use_the_running_loop_for_the_real_clock() -> None:
    cache = LocalBackend().cache(
        scope="s", namespace="search", max_entries=2, clock=MonotonicClock()
    )
    assert isinstance(cache, MemoryCache)
    assert cache.reads() is not None
    await cache.clear()


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
