"""Cache-hit path: a warm ``client.search("x")`` vs async-lru's ``alru_cache(ttl=...)``.

Verdicts from the GC-on, process-per-contender measurement; the older GC-off, in-process
figure is kept as a secondary one. The key budget's cost on a hit is a paired comparison of
two SDK processes that differ only in ``key_rate``, next to an A/A control (two identical SDK
processes) that shows how far apart identical code lands on this machine.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from async_lru import alru_cache

import lacale_async as la
from benchmarks._baselines import AiohttpMsgspecFetch, FloorTorrent
from benchmarks._common import Section, Target, fmt_ratio, gc_mode, load_average, md_table
from benchmarks._harness import (
    RatioStats,
    Samples,
    cli,
    measure,
    ratio_stats,
    variant_specs,
)
from benchmarks._loadserver import LoadServer
from benchmarks._pools import ContenderSpec, affinity_note
from benchmarks._report import gc_tables_and_notes
from benchmarks._sdk import SdkFetch

__all__ = ["open_alru", "open_dict", "open_sdk", "open_sdk_key", "run"]

SDK = "lacale_async search, cache hit"
SDK_AA = "lacale_async search, cache hit (A/A control: same code, another process)"
SDK_KEY = "lacale_async search, cache hit, key budget on (default key_rate)"
ALRU = "async-lru alru_cache(ttl=300) over aiohttp + msgspec"
DICT = "bare dict lookup in a coroutine (floor)"
TTL = 300.0
_HERE = "benchmarks.bench_cache"
SPECS = [
    ContenderSpec(SDK, f"{_HERE}:open_sdk"),
    ContenderSpec(SDK_AA, f"{_HERE}:open_sdk"),
    ContenderSpec(SDK_KEY, f"{_HERE}:open_sdk_key"),
    ContenderSpec(ALRU, f"{_HERE}:open_alru"),
    ContenderSpec(DICT, f"{_HERE}:open_dict"),
]

SearchFn = Callable[[str], Awaitable[Sequence[object]]]


class _Hits:
    """One contender's passes: ``calls`` sequential awaits of ``fn("x")``, all hits.

    Args:
        fn: The cached search, called itself (as ``alru_search`` is): a wrapper coroutine
            would add a hop no user pays.
        check: Called after each pass with the number of calls; asserts they were all hits.
        close: Releases the contender.
    """

    def __init__(
        self,
        fn: SearchFn,
        check: Callable[[int], None],
        close: Callable[[], Awaitable[None]],
    ) -> None:
        self._fn = fn
        self._check = check
        self._close = close

    async def run(self, job: Mapping[str, Any]) -> dict[str, float]:
        fn, calls = self._fn, int(job["calls"])
        with gc_mode(on=bool(job["gc"])):
            start = time.perf_counter()
            for _ in range(calls):
                await fn("x")
            elapsed = time.perf_counter() - start
        self._check(calls)
        return {"cps": calls / elapsed}

    async def aclose(self) -> None:
        await self._close()


async def _open_sdk(args: Mapping[str, Any], **options: Any) -> _Hits:
    sdk = await SdkFetch(args["base_url"], args["api_key"], cache_ttl=TTL, **options).open()
    client = sdk.client
    assert len(await client.search("x")) == 50  # the one miss; everything after is a hit
    spent = client.stats.key_budget.requests
    hits = 0

    def check(calls: int) -> None:
        nonlocal hits
        hits += calls
        stats = client.stats
        assert stats.cache_hits == hits, stats
        assert stats.requests == 1, stats
        # A hit never reaches the key budget: the miss spent its only unit.
        assert stats.key_budget.requests == spent, stats.key_budget

    return _Hits(client.search, check, sdk.aclose)


async def open_sdk(args: Mapping[str, Any]) -> _Hits:
    """The SDK, cache on, key budget off."""
    return await _open_sdk(args)


async def open_sdk_key(args: Mapping[str, Any]) -> _Hits:
    """The SDK, cache on, the default key budget kept in memory."""
    return await _open_sdk(args, key_rate=la.DEFAULT_KEY_RATE)


async def open_alru(args: Mapping[str, Any]) -> _Hits:
    """``alru_cache(ttl=300)`` over raw aiohttp + msgspec."""
    raw = AiohttpMsgspecFetch(args["base_url"], args["api_key"])

    @alru_cache(maxsize=1024, ttl=TTL)
    async def alru_search(query: str) -> list[FloorTorrent]:
        return await raw(query)

    assert len(await alru_search("x")) == 50

    def check(calls: int) -> None:
        assert alru_search.cache_info().misses == 1, alru_search.cache_info()

    async def close() -> None:
        alru_search.cache_clear()  # cancels the TTL timers
        await alru_search.cache_close()
        await raw.aclose()

    return _Hits(alru_search, check, close)


async def open_dict(args: Mapping[str, Any]) -> _Hits:
    """A bare dict lookup in a coroutine: what any async cache costs at least."""
    raw = AiohttpMsgspecFetch(args["base_url"], args["api_key"])
    table = {"x": await raw("x")}

    async def dict_search(query: str) -> list[FloorTorrent]:
        return table[query]

    return _Hits(dict_search, lambda calls: None, raw.aclose)


def _table(samples: Samples) -> str:
    sdk = samples.of(SDK, "cps")
    rows = [
        (
            name,
            f"{samples.median(name, 'cps'):,.0f}",
            f"{1e6 / samples.median(name, 'cps'):.3f}",
            ratio_stats(sdk, samples.of(name, "cps")).text() if name != SDK else "1.00x",
        )
        for name in samples.names
    ]
    return md_table(
        (
            "Contender",
            "calls/s (median)",
            "µs / call",
            "SDK speed vs this: median (min-max per round)",
        ),
        rows,
    )


def _targets(main: Samples, alru: RatioStats, key: RatioStats, control: RatioStats) -> list[Target]:
    """The verdicts: the hit against async-lru, the key budget against its A/A control."""
    return [
        Target(
            "Cache hit, GC on: SDK >= 2x async-lru",
            alru.median >= 2.0,
            f"{alru.text()}; {1e6 / main.median(SDK, 'cps'):.3f} µs vs "
            f"{1e6 / main.median(ALRU, 'cps'):.3f} µs per call",
        ),
        Target(
            "The key budget costs nothing measurable on a hit (on vs off >= 0.98x, GC on)",
            key.median >= 0.98,
            f"{key.text()}; A/A control {fmt_ratio(control.median)} "
            f"({control.low:.2f}-{control.high:.2f}x)",
        ),
    ]


def _method(calls: int, generations: int, rounds: int) -> str:
    """The section's method paragraph: what is measured, and how."""
    return (
        f"{calls:,} sequential awaits of a cached search per pass; each contender in its "
        f"own long-lived worker process (fresh ones {generations} time(s) over the run), "
        f"{rounds} rounds, the order shuffled per round, "
        f"garbage collector ON while timing (after a `gc.collect()`). {affinity_note()} "
        "The SDK hit path includes the argument checks, the memoised cache key, the "
        "cache lookup, the expiry check (one clock reading), the LRU mark and the stats "
        "counter; it returns a fresh list (a copy of the cached tuple, so callers may "
        "modify it) where async-lru returns the stored object itself (its entries expire "
        "by event-loop timers: no clock reading on a hit). Each worker checks after every "
        "pass that every call was a hit and the server confirms one request per contender."
    )


async def _measure(
    quick: bool, rounds: int | None, size: int | None, variants: Sequence[str], secondary: bool
) -> Section:
    calls = size or (20_000 if quick else 40_000)
    rounds = rounds or (3 if quick else 60)
    generations = 1 if quick else 5
    old_rounds = 2 if quick else 7
    load0 = load_average()
    extra = variant_specs(variants, f"{_HERE}:open_sdk")
    with LoadServer() as server:
        args = {"base_url": server.base_url, "api_key": server.api_key}

        def job(gc_on: bool) -> Callable[[str, int], dict[str, Any]]:
            return lambda name, r: {"calls": calls, "gc": gc_on}

        main = await measure(
            SPECS + extra, args, job(True), rounds=rounds, generations=generations, label="hit"
        )
        old: Samples | None = None
        if secondary:
            old = await measure(
                SPECS, args, job(False), rounds=old_rounds, in_process=True, label="old"
            )
        served = (await server.stats()).searches
    # One miss per contender opened; every other call was a hit.
    opened = generations * len(SPECS + extra) + (len(SPECS) if secondary else 0)
    assert served == opened, f"server saw {served} searches for {opened} contenders"

    alru = ratio_stats(main.of(SDK, "cps"), main.of(ALRU, "cps"))
    key = ratio_stats(main.of(SDK_KEY, "cps"), main.of(SDK, "cps"))
    control = ratio_stats(main.of(SDK_AA, "cps"), main.of(SDK, "cps"))
    parts, variants = gc_tables_and_notes(
        main,
        old,
        _table,
        sdk=SDK,
        baseline=(ALRU, "async-lru"),
        metric="cps",
        extra=extra,
        old_rounds=old_rounds,
    )
    notes = [
        f"Load average (1, 5, 15 min): {load0} at the start, {load_average()} at the end.",
        f"A/A control (two processes running the same SDK code): {control.text()}: the "
        "noise band a paired comparison of identical code lands in on this machine.",
        "Hooks: no hook sits on the search path at this commit; a hooks-on contender joins "
        "the key budget's paired comparison when one does.",
        *variants,
    ]
    return Section(
        title="Cache hit: warm search('x')",
        method=_method(calls, generations, rounds),
        table="\n".join(parts),
        targets=_targets(main, alru, key, control),
        notes=notes,
    )


def run(
    quick: bool = False,
    *,
    rounds: int | None = None,
    size: int | None = None,
    variants: Sequence[str] = (),
    secondary: bool = True,
) -> Section:
    """Run the cache-hit benchmark.

    Args:
        quick: 20,000 calls x 3 rounds (2 in-process) instead of 40,000 x 60 (7).
        rounds: Rounds of the GC-on, process-per-contender measurement.
        size: Requests (calls) per pass instead of the default.
        variants: ``label=path.py:function`` SDK variants (ablations), each in its own process.
        secondary: Also measure the older GC-off, in-process figure.

    Returns:
        The section for RESULTS.md.
    """
    return asyncio.run(_measure(quick, rounds, size, variants, secondary))


def main() -> None:
    """Run this benchmark alone and print its section."""
    cli(run, __doc__)


if __name__ == "__main__":
    main()
