"""Run contenders the way users run them: one long-lived process each, GC on, interleaved.

The contenders run in the pools of ``benchmarks._pools`` (one worker process each, pinned to
the client core); only one runs at a time, in an order shuffled anew each round, so a slow
moment of the shared machine spreads over every contender and the per-round ratios stay
paired. This module holds the rounds, the samples and their ratios, and the command line
every process-per-contender bench takes.
"""

from __future__ import annotations

import argparse
import random
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmarks._common import Section, fmt_ratio, median
from benchmarks._pools import ContenderSpec, InProcessPool, Job, ProcessPool, Result

__all__ = [
    "RatioStats",
    "Samples",
    "cli",
    "measure",
    "ratio_stats",
    "shuffled_rounds",
    "variant_specs",
]


# -- rounds and ratios -------------------------------------------------------------------------


def shuffled_rounds(names: Sequence[str], rounds: int, seed: int) -> Iterator[list[str]]:
    """Yield each round's order: every contender once, shuffled anew per round."""
    rng = random.Random(seed)
    for _ in range(rounds):
        order = list(names)
        rng.shuffle(order)
        yield order


@dataclass
class Samples:
    """Per-round figures of every contender: ``values[name][round]`` for each metric."""

    names: Sequence[str]
    values: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def add(self, name: str, result: Result) -> None:
        """Record one pass's result."""
        per_metric = self.values.setdefault(name, {})
        for metric, value in result.items():
            per_metric.setdefault(metric, []).append(float(value))

    def of(self, name: str, metric: str) -> list[float]:
        """Every round's value of ``metric`` for ``name``."""
        return self.values[name][metric]

    def median(self, name: str, metric: str) -> float:
        """Median over the rounds."""
        return median(self.of(name, metric))


@dataclass(frozen=True)
class RatioStats:
    """Per-round ratios ``a[i] / b[i]``: their median and their range (the spread)."""

    median: float
    low: float
    high: float
    rounds: int

    def text(self) -> str:
        """``0.93x (0.90-0.95x over 20 rounds)``."""
        return (
            f"{fmt_ratio(self.median)} ({self.low:.2f}-{self.high:.2f}x over {self.rounds} rounds)"
        )


def ratio_stats(a: Sequence[float], b: Sequence[float]) -> RatioStats:
    """Median and range of the per-round ratios; passes of one round are adjacent in time."""
    ratios = [x / y for x, y in zip(a, b, strict=True)]
    return RatioStats(median(ratios), min(ratios), max(ratios), len(ratios))


async def measure(
    specs: Sequence[ContenderSpec],
    args: Mapping[str, Any],
    job: Callable[[str, int], Job],
    *,
    rounds: int,
    generations: int = 1,
    in_process: bool = False,
    label: str = "",
) -> Samples:
    """Run every contender once per round, shuffled, and collect the per-round results.

    Args:
        specs: The contenders.
        args: Passed to every factory.
        job: Builds the job of one pass from the contender's name and the round number.
        rounds: Rounds in all.
        generations: Fresh worker processes this many times over the rounds: one process has
            its own memory layout and hash seed, which can favour or penalise it by a few
            percent for its whole life; several generations spread that over the rounds.
        in_process: Host every contender in this process instead (the older method).
        label: Seeds the shuffle, so two measurements of one run do not share an order.

    Returns:
        The samples, rounds in order.
    """
    samples = Samples([s.name for s in specs])
    seed = zlib.crc32(label.encode())
    done = 0
    for generation in range(generations):
        share = (rounds - done) // (generations - generation)
        pool: InProcessPool | ProcessPool = (
            InProcessPool(specs, args) if in_process else ProcessPool(specs, args)
        )
        async with pool:
            for order in shuffled_rounds(samples.names, share, seed + generation):
                for name in order:
                    samples.add(name, await pool.run(name, job(name, done)))
                done += 1
    return samples


def variant_specs(variants: Sequence[str], factory: str) -> list[ContenderSpec]:
    """Contenders for ``--variant label=path.py:function`` (an SDK with a setup hook)."""
    specs = []
    for text in variants:
        label, _, setup = text.partition("=")
        if not setup:
            raise SystemExit(f"--variant wants label=path.py:function, got {text!r}")
        specs.append(ContenderSpec(f"SDK [{label}]", factory, setup))
    return specs


def cli(run_section: Callable[..., Section], doc: str | None) -> None:
    """Parse the options every process-per-contender bench takes, run it, print the section."""
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, help="rounds of the GC-on measurement")
    parser.add_argument("--size", type=int, help="requests or calls per pass")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="LABEL=PATH.py:FUNC",
        help="an SDK variant: FUNC from PATH.py runs in its worker first (repeatable)",
    )
    parser.add_argument(
        "--no-secondary", action="store_true", help="skip the GC-off, in-process figure"
    )
    args = parser.parse_args()
    section = run_section(
        args.quick,
        rounds=args.rounds,
        size=args.size,
        variants=args.variant,
        secondary=not args.no_secondary,
    )
    print(section.markdown())
