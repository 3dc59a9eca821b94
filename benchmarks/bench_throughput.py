"""Cache-miss search throughput at concurrency 16: the SDK vs what users would write by hand."""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import psutil

from benchmarks._baselines import AiohttpJsonFetch, AiohttpMsgspecFetch, HttpxPydanticFetch
from benchmarks._common import (
    Section,
    Target,
    drive,
    fmt_ratio,
    md_table,
    median,
    paired_ratio,
    quiet_gc,
)
from benchmarks._loadserver import LoadServer
from benchmarks._sdk import SdkFetch

__all__ = ["run"]

SDK = "lacale_async LaCaleClient.search"
RAW_JSON = "aiohttp + json.loads (dicts)"
FLOOR = "aiohttp + msgspec decoder (floor)"
HTTPX = "httpx.AsyncClient + pydantic v2"
CONCURRENCY = 16


class _Fetch(Protocol):
    def __call__(self, query: str) -> Awaitable[Sequence[object]]: ...

    async def aclose(self) -> None: ...


async def _open_sdk(base_url: str, key: str) -> _Fetch:
    return await SdkFetch(base_url, key).open()


async def _open_json(base_url: str, key: str) -> _Fetch:
    return AiohttpJsonFetch(base_url, key)


async def _open_floor(base_url: str, key: str) -> _Fetch:
    return AiohttpMsgspecFetch(base_url, key)


async def _open_httpx(base_url: str, key: str) -> _Fetch:
    return HttpxPydanticFetch(base_url, key)


_OPENERS: dict[str, Callable[[str, str], Awaitable[_Fetch]]] = {
    SDK: _open_sdk,
    RAW_JSON: _open_json,
    FLOOR: _open_floor,
    HTTPX: _open_httpx,
}


async def _one_run(
    name: str, server: LoadServer, count: int, tag: str
) -> tuple[float, float, float]:
    """Time ``count`` distinct searches; return (req/s, client CPU %, server CPU %)."""
    fetch = await _OPENERS[name](server.base_url, server.api_key)
    try:
        # Warm-up outside the timing: opens the 16 keep-alive connections, checks the answer.
        warm = await asyncio.gather(*(fetch(f"warm {tag} {i}") for i in range(CONCURRENCY)))
        assert all(len(r) == 50 for r in warm), "every contender must decode 50 results"
        queries = [f"amélie épisode {tag} {i}" for i in range(count)]
        srv = psutil.Process(server.pid)
        srv_cpu0 = sum(srv.cpu_times()[:2])
        cpu0 = time.process_time()
        with quiet_gc():
            elapsed = await drive(fetch, queries, CONCURRENCY)
        cpu = time.process_time() - cpu0
        srv_cpu = sum(srv.cpu_times()[:2]) - srv_cpu0
    finally:
        await fetch.aclose()
    return count / elapsed, 100 * cpu / elapsed, 100 * srv_cpu / elapsed


async def _measure(quick: bool) -> Section:
    count, rounds = (600, 2) if quick else (3000, 5)
    rps: dict[str, list[float]] = {name: [] for name in _OPENERS}
    cpu: dict[str, list[float]] = {name: [] for name in _OPENERS}
    srv_cpu: dict[str, list[float]] = {name: [] for name in _OPENERS}
    with LoadServer() as server:
        for r in range(rounds):
            # A B C D, A B C D...: drift on a shared machine spreads over every contender.
            for name in _OPENERS:
                x, c, s = await _one_run(name, server, count, f"r{r}")
                rps[name].append(x)
                cpu[name].append(c)
                srv_cpu[name].append(s)
        served = (await server.stats()).searches
    expected = rounds * len(_OPENERS) * (count + CONCURRENCY)
    assert served == expected, f"server saw {served} searches, expected {expected}"

    med = {name: median(v) for name, v in rps.items()}
    rows = [
        (
            name,
            f"{med[name]:,.0f}",
            f"{min(rps[name]):,.0f} - {max(rps[name]):,.0f}",
            fmt_ratio(med[SDK] / med[name]),
            f"{median(cpu[name]):.0f}%",
            f"{median(srv_cpu[name]):.0f}%",
        )
        for name in _OPENERS
    ]
    table = md_table(
        (
            "Contender",
            "req/s (median)",
            "min - max",
            "SDK speed vs this",
            "client CPU",
            "server CPU",
        ),
        rows,
    )
    # Verdicts use the paired per-round ratio (see paired_ratio); the ratio of medians is shown.
    floor_ratio = paired_ratio(rps[SDK], rps[FLOOR])
    httpx_ratio = paired_ratio(rps[SDK], rps[HTTPX])
    return Section(
        title="Search throughput, cache misses, concurrency 16",
        method=(
            f"{count:,} distinct searches per run through 16 workers on one keep-alive session, "
            "against the load server (own process, raw asyncio HTTP/1.1, 50-result body, no "
            "latency). Limiters and cache off in the SDK. Contenders interleaved "
            f"(A B C D x {rounds} rounds), each run after a 16-request warm-up; GC off while "
            "timing; median req/s. CPU columns are CPU time / wall time: the client is "
            "CPU-bound (~100% of one core) while the server has headroom, so the server is not "
            "the bottleneck."
        ),
        table=table,
        targets=[
            Target(
                "SDK within 10% of raw aiohttp + msgspec (>= 0.90x)",
                floor_ratio >= 0.90,
                f"{fmt_ratio(floor_ratio)} paired per round (ratio of medians "
                f"{fmt_ratio(med[SDK] / med[FLOOR])})",
            ),
            Target(
                "SDK at least 1.5x httpx + pydantic",
                httpx_ratio >= 1.5,
                f"{fmt_ratio(httpx_ratio)} paired per round (ratio of medians "
                f"{fmt_ratio(med[SDK] / med[HTTPX])})",
            ),
        ],
    )


def run(quick: bool = False) -> Section:
    """Run the throughput benchmark.

    Args:
        quick: 600 requests x 2 rounds instead of 3,000 x 5.

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
