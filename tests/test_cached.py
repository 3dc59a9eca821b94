"""One cached endpoint of a client: what it keeps, its no-coroutine reads of an in-process
cache, its own single-flight (``_cached``)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import get_args

import pytest

from lacale_async import FakeClock
from lacale_async._cache import Cache, MemoryCache
from lacale_async._cached import Cached, CacheMode
from lacale_async._singleflight import SingleFlight


class SharedCache:
    """A :class:`Cache` that is not the in-process one, as a Redis-backed cache would be."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    async def get(self, key: str) -> str | None:
        return self.data.get(key)

    async def set(self, key: str, value: str, ttl: float) -> None:
        self.data[key] = value

    async def delete(self, key: str) -> None:
        self.data.pop(key, None)

    async def clear(self) -> None:
        self.data.clear()

    def fill(self, key: str) -> AbstractAsyncContextManager[str | None]:
        @asynccontextmanager
        async def nothing() -> AsyncIterator[str | None]:
            yield None

        return nothing()


def decode(body: bytes) -> str:
    return body.decode()


def cached(
    cache: Cache[str], ttl: float = 60.0, on_shared: Callable[[], None] | None = None
) -> Cached[str]:
    return Cached(
        "search", "/api/external", cache, ttl=ttl, decode=decode, promised="t", on_shared=on_shared
    )


def test_cache_modes_are_use_refresh_and_bypass() -> None:
    assert get_args(CacheMode) == ("use", "refresh", "bypass")


def test_it_keeps_what_the_engine_sends_and_decodes_with() -> None:
    cache = MemoryCache[str](clock=FakeClock())
    call = Cached("meta", "/api/external/meta", cache, ttl=3600.0, decode=decode, promised="p")
    assert (call.endpoint, call.path, call.cache, call.ttl, call.promised) == (
        "meta",
        "/api/external/meta",
        cache,
        3600.0,
        "p",
    )
    assert call.decode(b"caf\xc3\xa9") == "café"


async def test_peek_reads_the_memory_cache_without_a_coroutine() -> None:
    clock = FakeClock()
    cache = MemoryCache[str](clock=clock)
    call = cached(cache, ttl=60.0)
    assert call.local
    assert call.peek is not None
    assert call.peek("k") is None
    await cache.set("k", "answer", 60.0)
    assert call.peek("k") == "answer"
    clock.advance(60.0)
    assert call.peek("k") is None


async def test_reads_are_the_memory_cache_entry_lookup_touch_and_clock() -> None:
    clock = FakeClock(100.0)
    cache = MemoryCache[str](max_entries=2, clock=clock)
    call = cached(cache)
    assert call.reads is not None
    lookup, touch, now = call.reads
    await cache.set("a", "A", 60.0)
    await cache.set("b", "B", 60.0)
    assert lookup("a") == (160.0, "A")
    assert lookup("zz") is None
    assert now() == 100.0
    # Touched, "a" is the most recently used: the next entry pushes "b" out instead.
    touch("a")
    await cache.set("c", "C", 60.0)
    assert call.peek is not None
    assert call.peek("a") == "A"
    assert call.peek("b") is None


@pytest.mark.parametrize("ttl", [0.0, -1.0, math.nan])
def test_an_endpoint_that_caches_nothing_has_no_fast_reads(ttl: float) -> None:
    call = cached(MemoryCache[str](clock=FakeClock()), ttl=ttl)
    assert call.local  # still in-process: the single-flight is all the coordination
    assert call.peek is None
    assert call.reads is None


def test_a_shared_cache_is_not_local_and_has_no_fast_reads() -> None:
    shared = SharedCache()
    assert isinstance(shared, Cache)
    call = cached(shared, ttl=60.0)
    assert not call.local
    assert call.peek is None
    assert call.reads is None


async def test_concurrent_calls_of_one_key_share_one_run_and_count_as_shared() -> None:
    shared: list[None] = []
    call = cached(MemoryCache[str](clock=FakeClock()), on_shared=lambda: shared.append(None))
    assert isinstance(call.flight, SingleFlight)
    gate = asyncio.Event()
    runs: list[str] = []

    async def work() -> str:
        runs.append("run")
        await gate.wait()
        return "answer"

    tasks = [asyncio.create_task(call.flight.do("k", work)) for _ in range(3)]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*tasks) == ["answer"] * 3
    assert runs == ["run"]
    assert len(shared) == 2


async def test_two_endpoints_on_one_cache_never_share_a_call_in_flight() -> None:
    cache = MemoryCache[str](clock=FakeClock())
    search, meta = cached(cache), cached(cache)
    gate = asyncio.Event()
    runs: list[str] = []

    def work(name: str) -> Callable[[], Awaitable[str]]:
        async def run() -> str:
            runs.append(name)
            await gate.wait()
            return name

        return run

    first = asyncio.create_task(search.flight.do("k", work("search")))
    second = asyncio.create_task(meta.flight.do("k", work("meta")))
    await asyncio.sleep(0)
    gate.set()
    assert list(await asyncio.gather(first, second)) == ["search", "meta"]
    assert sorted(runs) == ["meta", "search"]
