"""Shared pieces of the benchmarks: result sections, tables, statistics, machine description."""

from __future__ import annotations

import asyncio
import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

__all__ = [
    "BENCH_DIR",
    "Section",
    "Target",
    "drive",
    "fmt_ratio",
    "gc_mode",
    "load_average",
    "machine_info",
    "md_table",
    "median",
]

BENCH_DIR = Path(__file__).resolve().parent

_VERSIONED = (
    "lacale-async",
    "aiohttp",
    "msgspec",
    "aiolimiter",
    "anyio",
    "httpx",
    "pydantic",
    "async-lru",
    "matplotlib",
    "psutil",
)


@dataclass(frozen=True)
class Target:
    """One claim checked by a benchmark.

    Attributes:
        claim: What is promised, e.g. "SDK within 10% of raw aiohttp+msgspec".
        met: Whether the measured medians meet it.
        measured: The measured figure behind the verdict, as text.
    """

    claim: str
    met: bool
    measured: str

    @property
    def verdict(self) -> str:
        """``**PASS**`` or ``**FAIL**``."""
        return "**PASS**" if self.met else "**FAIL**"


@dataclass
class Section:
    """The outcome of one benchmark, rendered as a part of RESULTS.md.

    Attributes:
        title: Heading of the section.
        method: One paragraph saying what was measured and how.
        table: Markdown table of medians and ratios.
        targets: Claims checked, with verdicts.
        notes: Extra remarks (profiling, caveats).
    """

    title: str
    method: str
    table: str
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        """Render the section as Markdown."""
        parts = [f"## {self.title}", "", self.method, "", self.table]
        if self.targets:
            rows = [(t.claim, t.measured, t.verdict) for t in self.targets]
            parts += ["", md_table(("Target", "Measured", "Verdict"), rows)]
        if self.notes:
            parts += [""] + [f"- {n}" for n in self.notes]
        return "\n".join(parts) + "\n"


def md_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Return a Markdown table (first column left-aligned, the others right-aligned)."""
    align = [":--"] + ["--:"] * (len(headers) - 1)
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def median(values: Sequence[float]) -> float:
    """Median of a non-empty sequence."""
    return float(statistics.median(values))


def fmt_ratio(value: float) -> str:
    """Format a ratio as ``1.23x``."""
    return f"{value:.2f}x"


class gc_mode:  # lowercase: used like a function, `with gc_mode(on=True) as runs:`
    """Collect garbage, then time with the cyclic collector on or off (restored on exit).

    The collection first gives every pass the same start (the generation counters at zero);
    with ``on=True`` the collector then runs as in any application, and ``runs`` counts its
    collections per generation during the block.

    Args:
        on: Keep the collector enabled while timing.
    """

    def __init__(self, *, on: bool) -> None:
        self._on = on
        self.runs: list[int] = [0, 0, 0]

    def __enter__(self) -> gc_mode:
        gc.collect()
        self._was_enabled = gc.isenabled()
        if self._on:
            gc.enable()
        else:
            gc.disable()
        self._before = [g["collections"] for g in gc.get_stats()]
        return self

    def __exit__(self, *exc: object) -> None:
        after = [g["collections"] for g in gc.get_stats()]
        self.runs = [a - b for a, b in zip(after, self._before, strict=True)]
        if self._was_enabled:
            gc.enable()
        else:
            gc.disable()


def load_average() -> str:
    """The 1, 5 and 15 minute load averages (what ``uptime`` prints), or "n/a"."""
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


async def drive(
    fetch: Callable[[str], Awaitable[object]], queries: Sequence[str], concurrency: int
) -> float:
    """Run ``fetch`` over ``queries`` with ``concurrency`` workers; return elapsed seconds.

    Workers pull the next query from a shared index, the shape of a bulk script, so no
    semaphore or task-per-request overhead is added to any contender.
    """
    it = iter(queries)

    async def worker() -> None:
        for q in it:
            await fetch(q)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        if dist == "lacale-async":
            from lacale_async._version import __version__

            return f"{__version__} (source tree)"
        return "not installed"


def machine_info() -> list[tuple[str, str]]:
    """Describe the machine, interpreter and library versions, and the date (UTC)."""
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    rows = [
        ("Date (UTC)", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M")),
        ("CPU", _cpu_model()),
        ("Cores", f"{os.cpu_count()} logical, {affinity} usable by this process"),
        ("OS", platform.platform()),
        ("Python", f"{platform.python_implementation()} {sys.version.split()[0]}"),
        ("Load average (1, 5, 15 min) at the start", load_average()),
    ]
    rows += [(name, _version(name)) for name in _VERSIONED]
    return rows
