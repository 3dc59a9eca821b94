"""Cache-miss search throughput at concurrency 16: the SDK vs what users would write by hand.

Verdicts come from the way users run: garbage collector on, each contender in its own
long-lived process, passes interleaved in a shuffled order per round. The older figure (GC off,
every contender in one process) is measured in the same run as a secondary figure.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

import psutil

from benchmarks._baselines import AiohttpJsonFetch, AiohttpMsgspecFetch, HttpxPydanticFetch
from benchmarks._common import (
    Section,
    Target,
    drive,
    fmt_ratio,
    gc_mode,
    load_average,
    md_table,
)
from benchmarks._harness import (
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

__all__ = ["open_floor", "open_httpx", "open_json", "open_sdk", "run"]

SDK = "lacale_async LaCaleClient.search"
RAW_JSON = "aiohttp + json.loads (dicts)"
FLOOR = "aiohttp + msgspec decoder (floor)"
HTTPX = "httpx.AsyncClient + pydantic v2"
CONCURRENCY = 16
# httpx + pydantic is about ten times slower: a fifth of the requests keeps its pass short.
_SHARE = {HTTPX: 0.2}
_HERE = "benchmarks.bench_throughput"
SPECS = [
    ContenderSpec(SDK, f"{_HERE}:open_sdk"),
    ContenderSpec(FLOOR, f"{_HERE}:open_floor"),
    ContenderSpec(RAW_JSON, f"{_HERE}:open_json"),
    ContenderSpec(HTTPX, f"{_HERE}:open_httpx"),
]


class _Fetch(Protocol):
    def __call__(self, query: str) -> Awaitable[Sequence[object]]: ...

    async def aclose(self) -> None: ...


class _Throughput:
    """One contender's passes: a warm-up, then ``count`` distinct searches through 16 workers."""

    def __init__(self, fetch: _Fetch) -> None:
        self._fetch = fetch

    async def run(self, job: Mapping[str, Any]) -> dict[str, float]:
        fetch, count, tag = self._fetch, int(job["count"]), str(job["tag"])
        workers = int(job.get("concurrency", CONCURRENCY))
        # Outside the timing: (re)opens the keep-alive connections, checks the answer.
        warm = await asyncio.gather(*(fetch(f"warm {tag} {i}") for i in range(workers)))
        assert all(len(r) == 50 for r in warm), "every contender must decode 50 results"
        queries = [f"amélie épisode {tag} {i}" for i in range(count)]
        srv = psutil.Process(int(job["server_pid"]))
        with gc_mode(on=bool(job["gc"])) as collector:
            # Read after gc_mode's collection, which is not part of the timed pass.
            srv_cpu0 = sum(srv.cpu_times()[:2])
            cpu0 = time.process_time()
            elapsed = await drive(fetch, queries, workers)
            cpu = time.process_time() - cpu0
            srv_cpu = sum(srv.cpu_times()[:2]) - srv_cpu0
        gen0, gen1, gen2 = collector.runs
        return {
            "rps": count / elapsed,
            "cpu": 100 * cpu / elapsed,
            "server_cpu": 100 * srv_cpu / elapsed,
            "gc_per_1k": 1000 * (gen0 + gen1 + gen2) / count,
            "gc2": gen2,
            "sent": count + workers,
        }

    async def aclose(self) -> None:
        await self._fetch.aclose()


async def open_sdk(args: Mapping[str, Any]) -> _Throughput:
    """The SDK, limiters, key budget and cache off (a pure miss path)."""
    return _Throughput(await SdkFetch(args["base_url"], args["api_key"]).open())


async def open_floor(args: Mapping[str, Any]) -> _Throughput:
    """Raw aiohttp + msgspec."""
    return _Throughput(AiohttpMsgspecFetch(args["base_url"], args["api_key"]))


async def open_json(args: Mapping[str, Any]) -> _Throughput:
    """Raw aiohttp + json.loads."""
    return _Throughput(AiohttpJsonFetch(args["base_url"], args["api_key"]))


async def open_httpx(args: Mapping[str, Any]) -> _Throughput:
    """httpx + pydantic v2."""
    return _Throughput(HttpxPydanticFetch(args["base_url"], args["api_key"]))


def _table(samples: Samples, *, gc_column: bool) -> str:
    sdk = samples.of(SDK, "rps")
    rows = []
    for name in samples.names:
        rps = samples.of(name, "rps")
        row: list[object] = [
            name,
            f"{samples.median(name, 'rps'):,.0f}",
            f"{min(rps):,.0f} - {max(rps):,.0f}",
            ratio_stats(sdk, rps).text() if name != SDK else "1.00x",
            f"{samples.median(name, 'cpu'):.0f}%",
            f"{samples.median(name, 'server_cpu'):.0f}%",
        ]
        if gc_column:
            row.append(
                f"{samples.median(name, 'gc_per_1k'):.0f} ({samples.median(name, 'gc2'):.0f})"
            )
        rows.append(row)
    headers = [
        "Contender",
        "req/s (median)",
        "min - max",
        "SDK speed vs this: median (min-max per round)",
        "client CPU",
        "server CPU",
    ]
    if gc_column:
        headers.append("GC runs / 1k req (full)")
    return md_table(headers, rows)


def _targets(main: Samples) -> list[Target]:
    """The verdicts, from the GC-on, process-per-contender samples."""
    floor = ratio_stats(main.of(SDK, "rps"), main.of(FLOOR, "rps"))
    httpx = ratio_stats(main.of(SDK, "rps"), main.of(HTTPX, "rps"))
    of_medians = main.median(SDK, "rps") / main.median(FLOOR, "rps")
    return [
        Target(
            "Cache miss, GC on: SDK >= 0.95x raw aiohttp + msgspec",
            floor.median >= 0.95,
            f"{floor.text()}; ratio of medians {fmt_ratio(of_medians)}",
        ),
        Target(
            "Cache miss, GC on: never below 0.90x raw aiohttp + msgspec (this run)",
            floor.median >= 0.90,
            f"run median {fmt_ratio(floor.median)}; lowest single round {fmt_ratio(floor.low)}",
        ),
        Target(
            "Cache miss, GC on: SDK >= 1.5x httpx + pydantic",
            httpx.median >= 1.5,
            httpx.text(),
        ),
    ]


def _method(count: int, generations: int, rounds: int) -> str:
    """The section's method paragraph: what is measured, and how."""
    return (
        f"{count:,} distinct searches per pass ({round(count * _SHARE[HTTPX]):,} for httpx) "
        "through 16 workers on one keep-alive session, against the load server (own "
        "process, raw asyncio HTTP/1.1, 50-result body, no latency). Limiters, key budget "
        "and cache off in the SDK. Each contender runs in its own long-lived worker "
        "process (opened once, like an application's client; fresh workers "
        f"{generations} time(s) over the run); one pass at a time, {rounds} rounds, the "
        "order shuffled per round, each pass after a 16-request "
        "warm-up and a `gc.collect()`, then timed with the garbage collector ON. "
        f"{affinity_note()} Ratios are medians of the per-round ratios (passes of one "
        "round are adjacent in time), with their range. CPU columns are CPU time / wall "
        "time: the client is CPU-bound while the server has headroom."
    )


def _job(
    count: int, server_pid: int, gc_on: bool, label: str
) -> Callable[[str, int], dict[str, Any]]:
    """Build the job of one pass: the contender's share of ``count``, tagged per round."""

    def build(name: str, r: int) -> dict[str, Any]:
        return {
            "count": max(CONCURRENCY, round(count * _SHARE.get(name, 1.0))),
            "tag": f"{label}{r}",
            "gc": gc_on,
            "server_pid": server_pid,
        }

    return build


async def _measure(
    quick: bool, rounds: int | None, size: int | None, variants: Sequence[str], secondary: bool
) -> Section:
    count = size or (600 if quick else 1000)
    rounds = rounds or (3 if quick else 40)
    generations = 1 if quick else 4
    old_rounds = 2 if quick else 10
    load0 = load_average()
    extra = variant_specs(variants, f"{_HERE}:open_sdk")
    with LoadServer() as server:
        args = {"base_url": server.base_url, "api_key": server.api_key}
        main = await measure(
            SPECS + extra,
            args,
            _job(count, server.pid, True, "p"),
            rounds=rounds,
            generations=generations,
            label="throughput",
        )
        old: Samples | None = None
        if secondary:
            old = await measure(
                SPECS,
                args,
                _job(count, server.pid, False, "i"),
                rounds=old_rounds,
                in_process=True,
                label="old",
            )
        served = (await server.stats()).searches
    runs = [main] if old is None else [main, old]
    sent = sum(sum(s.of(name, "sent")) for s in runs for name in s.names)
    # One server request per search: no contender retried or skipped one.
    assert served == sent, f"server saw {served} searches, the contenders sent {sent}"
    method = _method(count, generations, rounds)
    return _section(main, old, extra, method, load0=load0, old_rounds=old_rounds)


def _section(
    main: Samples,
    old: Samples | None,
    extra: Sequence[ContenderSpec],
    method: str,
    *,
    load0: str,
    old_rounds: int,
) -> Section:
    """The section: the GC-on (and GC-off) tables, the notes and the verdicts."""
    parts, variants = gc_tables_and_notes(
        main,
        old,
        lambda samples: _table(samples, gc_column=samples is main),
        sdk=SDK,
        baseline=(FLOOR, "floor"),
        metric="rps",
        extra=extra,
        old_rounds=old_rounds,
    )
    notes = [
        f"Load average (1, 5, 15 min): {load0} at the start, {load_average()} at the end.",
        "GC runs: collections of any generation per 1,000 requests while timing (in "
        "brackets: full collections per pass); the SDK allocates more tracked objects per "
        "request than the floor, so the collector runs more often for it.",
        *variants,
    ]
    return Section(
        title="Search throughput, cache misses, concurrency 16",
        method=method,
        table="\n".join(parts),
        targets=_targets(main),
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
    """Run the throughput benchmark.

    Args:
        quick: 600 requests x 3 rounds (2 in-process rounds) instead of 1,000 x 40 (10).
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
