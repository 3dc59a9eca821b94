"""Single-flight: 10,000 concurrent identical searches against a server with 50 ms latency."""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from async_lru import alru_cache

from benchmarks._baselines import AiohttpMsgspecFetch, FloorTorrent
from benchmarks._common import Section, Target, fmt_ratio, md_table, median
from benchmarks._loadserver import LoadServer
from benchmarks._sdk import SdkFetch

__all__ = ["run"]

SDK = "lacale_async search"
ALRU = "async-lru alru_cache over aiohttp + msgspec"
RAW = "aiohttp + msgspec, no coalescing"
FLOOR = "bare tasks awaiting one future (floor)"
LATENCY = 0.05
# The SDK's cache is on (as users run it); every caller arrives before the first answer, so the
# cache cannot help: only single-flight keeps the upstream count at 1.
SDK_CACHE_TTL = 60.0


class _Contender(Protocol):
    def __call__(self, query: str) -> Awaitable[Sequence[object]]: ...

    async def aclose(self) -> None: ...


class _Alru:
    def __init__(self, base_url: str, key: str) -> None:
        self._raw = AiohttpMsgspecFetch(base_url, key)

        @alru_cache(maxsize=1024, ttl=60.0)
        async def search(query: str) -> list[FloorTorrent]:
            return await self._raw(query)

        self._search = search

    def __call__(self, query: str) -> Awaitable[list[FloorTorrent]]:
        return self._search(query)

    async def aclose(self) -> None:
        self._search.cache_clear()
        await self._search.cache_close()
        await self._raw.aclose()


class _Floor:
    """What any coalescing costs at least: one task per caller, all awaiting one future."""

    def __init__(self, base_url: str, key: str) -> None:
        self._pending: asyncio.Future[list[FloorTorrent]] | None = None

    def __call__(self, query: str) -> Awaitable[list[FloorTorrent]]:
        if self._pending is None:
            fut: asyncio.Future[list[FloorTorrent]] = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_later(LATENCY, fut.set_result, [])
            self._pending = fut
        return self._wait(self._pending)

    @staticmethod
    async def _wait(fut: asyncio.Future[list[FloorTorrent]]) -> list[FloorTorrent]:
        return await fut

    async def aclose(self) -> None:
        self._pending = None


async def _open_sdk(base_url: str, key: str) -> _Contender:
    return await SdkFetch(base_url, key, cache_ttl=SDK_CACHE_TTL).open()


async def _open_alru(base_url: str, key: str) -> _Contender:
    return _Alru(base_url, key)


async def _open_raw(base_url: str, key: str) -> _Contender:
    return AiohttpMsgspecFetch(base_url, key)


async def _open_floor(base_url: str, key: str) -> _Contender:
    return _Floor(base_url, key)


_OPENERS: dict[str, Callable[[str, str], Awaitable[_Contender]]] = {
    SDK: _open_sdk,
    ALRU: _open_alru,
    RAW: _open_raw,
    FLOOR: _open_floor,
}


async def _storm(fn: _Contender, callers: int) -> list[Sequence[object]]:
    return await asyncio.gather(*(fn("same") for _ in range(callers)))


async def _timed(name: str, server: LoadServer, callers: int) -> tuple[float, int]:
    """Return (wall seconds, upstream requests) for ``callers`` concurrent identical calls."""
    fn = await _OPENERS[name](server.base_url, server.api_key)
    try:
        await server.reset()
        start = time.perf_counter()
        results = await _storm(fn, callers)
        elapsed = time.perf_counter() - start
        upstream = (await server.stats()).searches
    finally:
        await fn.aclose()
    if name != FLOOR:
        assert all(len(r) == 50 for r in results), "every caller must get the 50 results"
    return elapsed, upstream


async def _memory(name: str, server: LoadServer, callers: int) -> float:
    """Return the tracemalloc peak above the starting point, in bytes per waiting caller."""
    fn = await _OPENERS[name](server.base_url, server.api_key)
    try:
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        results = await _storm(fn, callers)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        del results
    finally:
        await fn.aclose()
    return (peak - base) / callers


def _table(
    med: dict[str, float], upstream: dict[str, list[int]], per_waiter: dict[str, float]
) -> str:
    rows = [
        (
            name,
            ", ".join(str(u) for u in sorted(set(upstream[name]))),
            f"{med[name] * 1000:,.0f}",
            fmt_ratio(med[name] / med[SDK]),
            f"{per_waiter[name]:,.0f}",
        )
        for name in _OPENERS
    ]
    return md_table(
        (
            "Contender",
            "upstream requests",
            "wall ms (median)",
            "time vs SDK",
            "bytes / waiter (tracemalloc peak)",
        ),
        rows,
    )


async def _measure(quick: bool) -> Section:
    callers, rounds = (2_000, 1) if quick else (10_000, 3)
    wall: dict[str, list[float]] = {name: [] for name in _OPENERS}
    upstream: dict[str, list[int]] = {name: [] for name in _OPENERS}
    with LoadServer(latency=LATENCY) as server:
        for _ in range(rounds):
            for name in _OPENERS:
                elapsed, sent = await _timed(name, server, callers)
                wall[name].append(elapsed)
                upstream[name].append(sent)
        # tracemalloc slows everything down, so memory is measured in runs of its own.
        per_waiter = {name: await _memory(name, server, callers) for name in _OPENERS}

    med = {name: median(v) for name, v in wall.items()}
    table = _table(med, upstream, per_waiter)
    sdk_up = upstream[SDK]
    return Section(
        title=f"Single-flight: {callers:,} concurrent identical searches, {LATENCY * 1000:.0f} ms "
        "server latency",
        method=(
            f"{callers:,} tasks call search('same') at once (`asyncio.gather`) on a fresh client; "
            "the server counter (reset before each run) gives the upstream request count. "
            f"{rounds} interleaved round(s); median wall time. Memory: a separate run under "
            "tracemalloc, peak traced memory above the starting point / callers (this includes "
            "the caller's own task and coroutine, which the floor row isolates). The no-coalescing "
            "row is what happens without single-flight (aiohttp's 100-connection pool)."
        ),
        table=table,
        targets=[
            Target(
                "exactly 1 upstream request for all callers",
                all(u == 1 for u in sdk_up),
                f"{sdk_up} (per round)",
            ),
            Target(
                "faster than firing every request (no coalescing)",
                med[SDK] < med[RAW],
                f"no coalescing takes {fmt_ratio(med[RAW] / med[SDK])} the SDK's time",
            ),
        ],
        notes=[
            f"Wall time per waiter above the bare-task floor: SDK "
            f"{(med[SDK] - med[FLOOR]) / callers * 1e6:.1f} µs, async-lru "
            f"{(med[ALRU] - med[FLOOR]) / callers * 1e6:.1f} µs (each SDK waiter finds its "
            "memoised cache key, checks the cache, then waits on a future of its own that the "
            "shared work wakes; see benchmarks/PROFILE.md).",
            f"Memory per waiter above the bare-task floor: SDK "
            f"{per_waiter[SDK] - per_waiter[FLOOR]:,.0f} B, async-lru "
            f"{per_waiter[ALRU] - per_waiter[FLOOR]:,.0f} B.",
        ],
    )


def run(quick: bool = False) -> Section:
    """Run the single-flight benchmark.

    Args:
        quick: 2,000 callers and one round instead of 10,000 and three.

    Returns:
        The section for RESULTS.md.
    """
    return asyncio.run(_measure(quick))


def main() -> None:
    """Run this benchmark alone and print its section."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    print(run(parser.parse_args().quick).markdown())


if __name__ == "__main__":
    main()
