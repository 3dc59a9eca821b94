"""Memory: peak RSS of a client holding 1,000 cached searches (50 results each) vs an empty one.

Each scenario runs in a fresh interpreter (RSS and its peak are per process), importing the same
modules, so the differences are the scenario's own cost.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import psutil
from async_lru import alru_cache

from benchmarks._baselines import AiohttpMsgspecFetch, FloorTorrent
from benchmarks._common import Section, Target, drive, md_table, median
from benchmarks._loadserver import LoadServer
from benchmarks._sdk import SdkFetch

__all__ = ["run"]

ENTRIES = 1_000
EMPTY = "empty"
NOCACHE = "nocache"
FULL = "full"
ALRU = "alru"
_LABELS = {
    EMPTY: "SDK client opened, no search (baseline)",
    NOCACHE: f"SDK, {ENTRIES:,} searches, cache off",
    FULL: f"SDK, {ENTRIES:,} searches held in its cache",
    ALRU: f"alru_cache + aiohttp + msgspec holding {ENTRIES:,} searches",
}
MiB = 1024 * 1024


def _peak_rss() -> float:
    """Peak RSS of this process in bytes.

    ``VmHWM`` first: ``ru_maxrss`` survives ``exec`` on Linux, so in a child started by a big
    parent it reports the parent's peak, not ours.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) * 1024
    except OSError:
        pass
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


def _memory_now() -> dict[str, float]:
    gc.collect()
    return {"rss": float(psutil.Process().memory_info().rss), "peak": _peak_rss()}


async def _child(scenario: str, base_url: str, key: str) -> dict[str, float]:
    """Run one scenario in this process and return its RSS figures (bytes)."""
    queries = [f"mémoire {i}" for i in range(ENTRIES)]
    if scenario == ALRU:
        raw = AiohttpMsgspecFetch(base_url, key)

        @alru_cache(maxsize=ENTRIES + 24)
        async def search(query: str) -> list[FloorTorrent]:
            return await raw(query)

        try:
            await drive(search, queries, 16)
            assert search.cache_info().currsize == ENTRIES
            return _memory_now()
        finally:
            await raw.aclose()
    ttl = 3600.0 if scenario == FULL else 0.0
    sdk = await SdkFetch(base_url, key, cache_ttl=ttl).open()
    try:
        if scenario != EMPTY:
            await drive(sdk, queries, 16)
        if scenario == FULL:
            # A second pass must be all hits, proving the cache holds every entry.
            await drive(sdk, queries, 16)
            assert sdk.client.stats.cache_hits == ENTRIES, sdk.client.stats
        return _memory_now()
    finally:
        await sdk.aclose()


def _run_child(scenario: str, server: LoadServer) -> dict[str, float]:
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.bench_memory",
            "--child",
            scenario,
            "--base-url",
            server.base_url,
            "--key",
            server.api_key,
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run(quick: bool = False) -> Section:
    """Measure each scenario in fresh processes; medians of the rounds.

    Args:
        quick: One round instead of three.

    Returns:
        The section for RESULTS.md.
    """
    rounds = 1 if quick else 3
    scenarios = (EMPTY, NOCACHE, FULL, ALRU)
    peak: dict[str, list[float]] = {s: [] for s in scenarios}
    rss: dict[str, list[float]] = {s: [] for s in scenarios}
    with LoadServer() as server:
        for _ in range(rounds):
            for s in scenarios:
                got = _run_child(s, server)
                peak[s].append(got["peak"])
                rss[s].append(got["rss"])
    mp = {s: median(v) for s, v in peak.items()}
    mr = {s: median(v) for s, v in rss.items()}
    rows = [
        (
            _LABELS[s],
            f"{mp[s] / MiB:.1f}",
            f"{(mp[s] - mp[EMPTY]) / MiB:+.1f}",
            f"{mr[s] / MiB:.1f}",
            f"{(mr[s] - mr[EMPTY]) / MiB:+.1f}",
        )
        for s in scenarios
    ]
    table = md_table(
        (
            "Scenario",
            "peak RSS MiB",
            "peak vs baseline",
            "RSS after GC MiB",
            "RSS vs baseline",
        ),
        rows,
    )
    per_entry = (mr[FULL] - mr[NOCACHE]) / ENTRIES
    alru_entry = (mr[ALRU] - mr[NOCACHE]) / ENTRIES
    return Section(
        title=f"Memory: a full cache of {ENTRIES:,} searches",
        method=(
            f"Each scenario in a fresh interpreter importing the same modules; {ENTRIES:,} "
            "distinct searches (50 results each, ~17 KB of JSON per answer) with 16 workers. "
            "Peak RSS from /proc/self/status VmHWM, current RSS from psutil after "
            f"`gc.collect()`; medians of {rounds} round(s)."
        ),
        table=table,
        targets=[
            Target(
                "SDK cache costs no more per entry than alru_cache holding the same data (+10%)",
                per_entry <= alru_entry * 1.10,
                f"SDK {per_entry / 1024:.1f} KiB/entry, alru {alru_entry / 1024:.1f} KiB/entry "
                "(RSS above the cache-off run)",
            )
        ],
        notes=[
            "Per-entry figures are decoded objects (50 frozen structs with their strings and "
            "datetimes), not the JSON bytes: the cache stores what `search()` returns.",
        ],
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Run this benchmark alone (or, with ``--child``, one scenario in this process)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", choices=(EMPTY, NOCACHE, FULL, ALRU))
    parser.add_argument("--base-url", default="")
    parser.add_argument("--key", default="")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(asyncio.run(_child(args.child, args.base_url, args.key))))
    else:
        print(run(args.quick).markdown())


if __name__ == "__main__":
    main()
