"""Memory per cached search entry: the SDK's cache vs async-lru holding the same 1,000 answers.

Each contender runs in a fresh worker process per round, garbage collector on as always. The
process first runs the same 1,000 searches without caching (so sessions, buffers, the
allocator's arenas and the SDK's query memo are all warm), then fills the cache with them; the
RSS growth between the two points, over 1,000, is the cost of one entry as the OS sees it. A
separate round under tracemalloc gives the exact Python bytes per entry.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tracemalloc
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import psutil
from async_lru import alru_cache

from benchmarks._baselines import AiohttpMsgspecFetch, FloorTorrent
from benchmarks._common import Section, Target, drive, load_average, md_table
from benchmarks._harness import (
    Samples,
    measure,
    ratio_stats,
    variant_specs,
)
from benchmarks._loadserver import LoadServer
from benchmarks._pools import ContenderSpec, affinity_note
from benchmarks._sdk import SdkFetch

__all__ = ["open_alru", "open_alru_ttl", "open_sdk", "run"]

ENTRIES = 1_000
SDK = "lacale_async search cache (TTL, LRU)"
ALRU = "alru_cache(maxsize) over aiohttp + msgspec"
ALRU_TTL = "alru_cache(maxsize, ttl) over aiohttp + msgspec"
_HERE = "benchmarks.bench_memory"
SPECS = [
    ContenderSpec(SDK, f"{_HERE}:open_sdk"),
    ContenderSpec(ALRU, f"{_HERE}:open_alru"),
    ContenderSpec(ALRU_TTL, f"{_HERE}:open_alru_ttl"),
]
KiB = 1024

Search = Callable[[str], Awaitable[Sequence[object]]]


def _rss() -> float:
    gc.collect()
    return float(psutil.Process().memory_info().rss)


class _Fill:
    """One contender: the same searches uncached, then cached; memory growth per entry.

    Args:
        uncached: The search without any cache (the warm-up).
        cached: The cached search.
        count: Returns how many entries the cache holds.
        close: Releases the contender.
    """

    def __init__(
        self,
        uncached: Search,
        cached: Search,
        count: Callable[[], int],
        close: Callable[[], Awaitable[None]],
    ) -> None:
        self.uncached = uncached
        self.cached = cached
        self._count = count
        self._close = close

    async def run(self, job: Mapping[str, Any]) -> dict[str, float]:
        entries = int(job["entries"])
        queries = [f"mémoire {i}" for i in range(entries)]
        await drive(self.uncached, queries, 16)
        trace = bool(job["trace"])
        rss0 = _rss()
        blocks0 = sys.getallocatedblocks()
        if trace:
            tracemalloc.start()
        traced0 = tracemalloc.get_traced_memory()[0]
        await drive(self.cached, queries, 16)
        await drive(self.cached, queries, 16)  # all hits: the cache holds every entry
        gc.collect()
        traced = tracemalloc.get_traced_memory()[0] - traced0
        tracemalloc.stop()
        blocks = sys.getallocatedblocks() - blocks0
        rss = _rss() - rss0
        assert self._count() == entries, self._count()
        return {"rss": rss / entries, "blocks": blocks / entries, "traced": traced / entries}

    async def aclose(self) -> None:
        await self._close()


async def open_sdk(args: Mapping[str, Any]) -> _Fill:
    """The SDK with its in-memory search cache (one hour TTL)."""
    sdk = await SdkFetch(args["base_url"], args["api_key"], cache_ttl=3600.0).open()
    client = sdk.client

    async def uncached(query: str) -> Sequence[object]:
        return await client.search(query, cache="bypass")

    def count() -> int:
        # One pass per process; its second half was all hits, so every entry is held.
        return client.stats.cache_hits

    return _Fill(uncached, client.search, count, sdk.aclose)


async def _open_alru(args: Mapping[str, Any], ttl: float | None) -> _Fill:
    raw = AiohttpMsgspecFetch(args["base_url"], args["api_key"])

    @alru_cache(maxsize=ENTRIES + 24, ttl=ttl)
    async def search(query: str) -> list[FloorTorrent]:
        return await raw(query)

    async def close() -> None:
        search.cache_clear()
        await search.cache_close()
        await raw.aclose()

    def count() -> int:
        info = search.cache_info()
        assert info.hits == info.currsize, info  # the second pass was all hits
        return int(info.currsize)

    return _Fill(raw, search, count, close)


async def open_alru(args: Mapping[str, Any]) -> _Fill:
    """``alru_cache(maxsize=1024)`` over raw aiohttp + msgspec (no TTL: its leanest entry)."""
    return await _open_alru(args, None)


async def open_alru_ttl(args: Mapping[str, Any]) -> _Fill:
    """``alru_cache(maxsize=1024, ttl=3600)``: the same features as the SDK's cache."""
    return await _open_alru(args, 3600.0)


async def _measure(
    quick: bool, rounds: int | None, variants: Sequence[str]
) -> tuple[Samples, Samples, int, str]:
    rounds = rounds or (1 if quick else 5)
    entries = 250 if quick else ENTRIES
    load0 = load_average()
    with LoadServer() as server:
        args = {"base_url": server.base_url, "api_key": server.api_key}
        # Fresh processes every round: RSS is per process and only ever grows.
        specs = SPECS + variant_specs(variants, f"{_HERE}:open_sdk")
        rss = await measure(
            specs,
            args,
            lambda name, r: {"trace": False, "entries": entries},
            rounds=rounds,
            generations=rounds,
            label="memory",
        )
        traced = await measure(
            specs,
            args,
            lambda name, r: {"trace": True, "entries": entries},
            rounds=1,
            label="traced",
        )
    return rss, traced, entries, f"{load0} at the start, {load_average()} at the end"


def _table(rss: Samples, traced: Samples) -> str:
    rows = [
        (
            name,
            f"{rss.median(name, 'rss') / KiB:.1f}",
            f"{min(rss.of(name, 'rss')) / KiB:.1f} - {max(rss.of(name, 'rss')) / KiB:.1f}",
            f"{traced.median(name, 'traced') / KiB:.1f}",
            f"{rss.median(name, 'blocks'):,.0f}",
            ratio_stats(rss.of(SDK, "rss"), rss.of(name, "rss")).text() if name != SDK else "1.00x",
        )
        for name in rss.names
    ]
    return md_table(
        (
            "Cache",
            "RSS KiB / entry (median)",
            "min - max",
            "tracemalloc KiB / entry",
            "allocated blocks / entry",
            "SDK memory vs this: median (min-max per round)",
        ),
        rows,
    )


def run(quick: bool = False, *, rounds: int | None = None, variants: Sequence[str] = ()) -> Section:
    """Measure memory per cached entry.

    Args:
        quick: One round of 250 entries instead of five of 1,000.
        rounds: Rounds (fresh processes each).
        variants: ``label=path.py:function`` SDK variants (ablations).

    Returns:
        The section for RESULTS.md.
    """
    rss, traced, entries, load = asyncio.run(_measure(quick, rounds, variants))
    table = _table(rss, traced)
    versus = ratio_stats(rss.of(SDK, "rss"), rss.of(ALRU, "rss"))
    n = versus.rounds
    return Section(
        title=f"Memory per cached search entry ({entries:,} entries of 50 results)",
        method=(
            f"Each contender in a fresh worker process per round ({n} round(s), the order "
            f"shuffled), garbage collector on. {affinity_note()} In each process: "
            f"{entries:,} distinct searches without caching (warms sessions, buffers, "
            "allocator arenas and the SDK's query memo), `gc.collect()`, RSS; the same "
            "searches through the cache, then again (all hits), `gc.collect()`, RSS. The "
            f"growth over {entries:,} is one entry's cost as the OS sees it (50 decoded "
            "results with their strings and datetimes, the key, the cache's bookkeeping). "
            "The tracemalloc column comes from one more round with tracemalloc started just "
            "before the fill (exact Python bytes, no allocator slack); allocated blocks from "
            "`sys.getallocatedblocks()`."
        ),
        table=table,
        targets=[
            Target(
                "Memory per cached search entry <= async-lru's (RSS, GC on)",
                versus.median <= 1.0,
                f"SDK {rss.median(SDK, 'rss') / KiB:.1f} KiB, async-lru "
                f"{rss.median(ALRU, 'rss') / KiB:.1f} KiB per entry; SDK / async-lru "
                f"{versus.text()}",
            )
        ],
        notes=[
            f"Load average (1, 5, 15 min): {load}.",
            "The verdict is against async-lru's leanest entry (no TTL); with a TTL, as the "
            "SDK's cache always has, async-lru also keeps a timer handle per entry.",
        ],
    )


def main() -> None:
    """Run this benchmark alone and print its section."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--variant", action="append", default=[], metavar="LABEL=PATH.py:FUNC")
    args = parser.parse_args()
    print(run(args.quick, rounds=args.rounds, variants=args.variant).markdown())


if __name__ == "__main__":
    main()
