"""Cache-hit path: a warm ``client.search("x")`` vs async-lru's ``alru_cache(ttl=...)``."""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

from async_lru import alru_cache

import lacale_async as la
from benchmarks._baselines import AiohttpMsgspecFetch, FloorTorrent
from benchmarks._common import Section, Target, fmt_ratio, md_table, median, paired_ratio, quiet_gc
from benchmarks._loadserver import LoadServer
from benchmarks._sdk import SdkFetch

__all__ = ["run"]

SDK = "lacale_async search, cache hit"
SDK_KEY = "lacale_async search, cache hit, key budget on (default key_rate)"
ALRU = "async-lru alru_cache(ttl=300) over aiohttp + msgspec"
DICT = "bare dict lookup in a coroutine (floor)"
TTL = 300.0


async def _calls_per_second(fn: Callable[[str], Awaitable[Sequence[object]]], calls: int) -> float:
    """Await ``fn("x")`` ``calls`` times in a row; return calls per second."""
    with quiet_gc():
        start = time.perf_counter()
        for _ in range(calls):
            await fn("x")
        return calls / (time.perf_counter() - start)


async def _measure(quick: bool) -> Section:
    calls, rounds = (20_000, 3) if quick else (200_000, 7)
    with LoadServer() as server:
        sdk = await SdkFetch(server.base_url, server.api_key, cache_ttl=TTL).open()
        # The default key budget, kept in memory: a hit must never touch it.
        keyed = await SdkFetch(
            server.base_url, server.api_key, cache_ttl=TTL, key_rate=la.DEFAULT_KEY_RATE
        ).open()
        raw = AiohttpMsgspecFetch(server.base_url, server.api_key)

        @alru_cache(maxsize=1024, ttl=TTL)
        async def alru_search(query: str) -> list[FloorTorrent]:
            return await raw(query)

        table: dict[str, list[FloorTorrent]] = {}

        async def dict_search(query: str) -> list[FloorTorrent]:
            return table[query]

        try:
            # One miss each fills the caches; everything after is a hit.
            assert len(await sdk("x")) == 50
            assert len(await keyed("x")) == 50
            assert len(await alru_search("x")) == 50
            table["x"] = await raw("x")
            contenders: dict[str, Callable[[str], Awaitable[Sequence[object]]]] = {
                # The bound method itself, as alru_search is called itself: SdkFetch's own
                # __call__ would add a coroutine hop that no user pays.
                SDK: sdk.client.search,
                SDK_KEY: keyed.client.search,
                ALRU: alru_search,
                DICT: dict_search,
            }
            samples: dict[str, list[float]] = {name: [] for name in contenders}
            for _ in range(rounds):
                for name, fn in contenders.items():
                    samples[name].append(await _calls_per_second(fn, calls))
            stats = sdk.client.stats
            key_stats = keyed.client.stats.key_budget
            key_left = (await keyed.client.quota()).remaining
            served = (await server.stats()).searches
        finally:
            await sdk.aclose()
            await keyed.aclose()
            await raw.aclose()
            alru_search.cache_clear()  # cancels the TTL timers
            await alru_search.cache_close()
    # One request per contender; every other call must have been a hit.
    assert served == 4, f"server saw {served} searches; a hit path sent requests"
    assert stats.cache_hits == rounds * calls, stats
    # The key budget was spent once, by the miss; the hits never reached it.
    assert key_stats.requests == 1, key_stats
    assert key_stats.wait < 0.01, key_stats
    assert key_left == la.DEFAULT_KEY_RATE[0][0] - 1

    med = {name: median(v) for name, v in samples.items()}
    rows = [
        (name, f"{med[name]:,.0f}", f"{1e6 / med[name]:.2f}", fmt_ratio(med[SDK] / med[name]))
        for name in contenders
    ]
    ratio = paired_ratio(samples[SDK], samples[ALRU])
    key_ratio = paired_ratio(samples[SDK_KEY], samples[SDK])
    return Section(
        title="Cache hit: warm search('x')",
        method=(
            f"{calls:,} sequential awaits of a cached search per run, {rounds} interleaved "
            "rounds, GC off while timing; median calls/s. The SDK hit path includes query "
            "normalisation, cache-key building, TTL check and stats; async-lru hashes the "
            "arguments. The SDK returns a fresh list (a copy of the cached tuple, so callers may "
            "modify it); async-lru returns the stored object itself. The server counter confirms "
            "one request per contender."
        ),
        table=md_table(("Contender", "calls/s (median)", "µs / call", "SDK speed vs this"), rows),
        targets=[
            Target(
                "SDK hit path at least as fast as alru_cache (>= 1.00x)",
                ratio >= 1.0,
                f"{fmt_ratio(ratio)} paired per round (ratio of medians "
                f"{fmt_ratio(med[SDK] / med[ALRU])})",
            ),
            Target(
                "The key budget costs nothing on a hit (key budget on vs off, >= 0.97x)",
                key_ratio >= 0.97,
                f"{fmt_ratio(key_ratio)} paired per round; 1 budget unit spent (the miss), "
                f"{key_stats.wait:.3f} s waited",
            ),
        ],
    )


def run(quick: bool = False) -> Section:
    """Run the cache-hit benchmark.

    Args:
        quick: 20,000 calls x 3 rounds instead of 200,000 x 7.

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
