"""Limiter waits as the CLI sees them: wall-clock time, the sum, the spinner's reason."""

from __future__ import annotations

import asyncio
import io
import re

from _cli import SANDBOX, invoke
from _mocked import SEARCH, make_client
from aioresponses import aioresponses
from rich.console import Console

from lacale_async import FakeClock, WaitEvent, WindowLimiter
from lacale_async._cli._waits import WaitWatch, spinner


class Now:
    """A hand-moved monotonic time source."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_wall_clock_counts_overlapping_waits_once() -> None:
    now = Now()
    watch = WaitWatch(now)
    a = watch.begin("search")
    b = watch.begin("search")
    now.t += 4.0
    watch.end("search", a)
    c = watch.begin("download")
    now.t += 1.0
    watch.end("search", b)
    watch.end("download", c)
    now.t += 10.0  # nobody waits: not counted
    d = watch.begin("search")
    now.t += 2.0
    assert watch.wall == 7.0, "ongoing waits count up to now"
    watch.end("search", d)
    assert watch.wall == 7.0
    assert watch.summed == 4.0 + 5.0 + 1.0 + 2.0


def test_describe_names_the_endpoints_and_rates_holding_calls_back() -> None:
    watch = WaitWatch(Now())
    assert watch.describe() is None
    watch.observe(WaitEvent(endpoint="search", limit="endpoint", rates=((5, 2.0),)))
    assert watch.describe() == "waiting for the rate limit: search (5 per 2 s)"
    watch.observe(WaitEvent(endpoint="search", limit="key", rates=((60, 60.0),)))
    assert watch.describe() == (
        "waiting for the rate limit: key budget (60 per 60 s), search (5 per 2 s)"
    )
    watch.observe(WaitEvent(endpoint="search", limit="key", ended=True))
    watch.observe(WaitEvent(endpoint="search", limit="endpoint", ended=True))
    assert watch.describe() is None


async def test_the_clients_waits_reach_the_watch() -> None:
    clock = FakeClock()
    watch = WaitWatch(clock.now)
    limiter = WindowLimiter([(1, 10.0)], clock=clock, margin=0)
    with aioresponses() as mock:
        mock.get(SEARCH, payload=[], repeat=True)
        async with make_client(
            clock, search_rate=limiter, key_rate=None, on_wait=watch.observe
        ) as client:
            await asyncio.gather(*(client.search(f"query {i}") for i in range(3)))
    # The second waits one window, the third two, side by side: 20 s of wall clock, 30 summed.
    assert round(watch.wall) == 20
    assert round(watch.summed) == 30
    assert watch.describe() is None


async def test_spinner_appears_after_the_delay_on_a_terminal_only() -> None:
    watch = WaitWatch()
    out = io.StringIO()
    terminal = Console(file=out, force_terminal=True, width=80)
    watch.begin("search")
    async with spinner(watch, terminal, delay=0.0):
        await asyncio.sleep(0.2)
    assert "waiting for the rate limit: search" in out.getvalue()
    piped = io.StringIO()
    async with spinner(watch, Console(file=piped, force_terminal=False), delay=0.0):
        await asyncio.sleep(0.05)
    assert piped.getvalue() == ""


def test_bulk_stats_line_has_wall_clock_wait_below_the_sum() -> None:
    # 7 distinct searches against the embedded sandbox's 5-per-2-s limit: 2 calls queue.
    queries = "".join(f"query number {i}\n" for i in range(7))
    result = invoke([*SANDBOX, "bulk", "-", "--top", "0", "--concurrency", "7"], input=queries)
    assert result.exit_code == 0, result.stderr
    stats = next(line for line in result.stdout.splitlines() if line.startswith("stats:"))
    found = re.search(
        r"waited for the rate limit ([\d.]+) s \(([\d.]+) s summed over calls\), elapsed ([\d.]+)",
        stats,
    )
    assert found, stats
    wall, summed, elapsed = map(float, found.groups())
    assert wall > 0
    assert wall <= elapsed + 0.1
    assert summed > wall, "queued calls overlap: the sum exceeds the wall-clock wait"
