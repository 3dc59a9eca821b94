"""Run contenders the way users run them: one long-lived process each, GC on, interleaved.

A benchmark names its contenders by factory (``"benchmarks.bench_cache:open_sdk"``). The
parent starts one worker process per contender (``benchmarks._worker``), pinned to the client
core, and sends each a job per pass over a pipe; only one worker runs at a time, in an order
shuffled anew each round, so a slow moment of the shared machine spreads over every contender
and the per-round ratios stay paired. The same factories also run in the parent's own loop
(:class:`InProcessPool`), which is how the older GC-off figures were measured.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import random
import sys
import zlib
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from benchmarks._common import Section, fmt_ratio, median

__all__ = [
    "ROOT",
    "Contender",
    "ContenderSpec",
    "InProcessPool",
    "ProcessPool",
    "RatioStats",
    "Samples",
    "affinity_note",
    "cli",
    "cores_for",
    "load_factory",
    "measure",
    "pin",
    "ratio_stats",
    "shuffled_rounds",
    "variant_specs",
]

Job = dict[str, Any]
Result = dict[str, float]
_READY = "WORKER-READY"
ROOT = Path(__file__).resolve().parent.parent


class Contender(Protocol):
    """One contender inside a worker: opened once, then runs one job per pass."""

    async def run(self, job: Job) -> Result:
        """Run one pass and return its figures (numbers only, JSON-ready)."""
        ...

    async def aclose(self) -> None:
        """Release sessions, timers and connections."""
        ...


Factory = Callable[[Mapping[str, Any]], Awaitable[Contender]]


@dataclass(frozen=True)
class ContenderSpec:
    """A contender: its label, the factory that opens it, and an optional setup hook.

    Attributes:
        name: Label shown in the tables.
        factory: ``module:function``, an async function taking the bench's arguments.
        setup: ``path/to/file.py:function`` called in the worker before the factory (an
            ablation's monkeypatch, kept outside the repository); process mode only.
    """

    name: str
    factory: str
    setup: str | None = None


def load_factory(ref: str) -> Factory:
    """Import ``module:function`` and return the function."""
    module, _, func = ref.partition(":")
    found: Factory = getattr(importlib.import_module(module), func)
    return found


def run_setup(ref: str) -> None:
    """Call the ``path.py:function`` hook (loaded from a file, not from the package)."""
    import importlib.util

    path, _, func = ref.rpartition(":")
    spec = importlib.util.spec_from_file_location(f"_bench_setup_{abs(hash(path))}", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load the setup hook {ref!r}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    getattr(module, func)()


# -- cores -------------------------------------------------------------------------------------


_BOOT_CORES: set[int] = set(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else set()


def cores_for(role: str) -> set[int] | None:
    """The cores a role is pinned to: ``server`` the first usable core, ``client`` the last.

    Returns None where pinning is unavailable (no ``sched_setaffinity``, or one usable core).
    """
    usable = sorted(_BOOT_CORES)
    if len(usable) < 2:
        return None
    return {usable[0]} if role == "server" else {usable[-1]}


def pin(pid: int, role: str) -> bool:
    """Pin process ``pid`` (0: this one) to the cores of ``role``; False when not possible."""
    cores = cores_for(role)
    if cores is None:
        return False
    os.sched_setaffinity(pid, cores)
    return True


def unpin(pid: int = 0) -> None:
    """Give process ``pid`` back every core it started with."""
    if _BOOT_CORES:
        os.sched_setaffinity(pid, _BOOT_CORES)


def affinity_note() -> str:
    """One sentence saying how processes were pinned, for a section's method text."""
    server, client = cores_for("server"), cores_for("client")
    if server is None or client is None:
        return "Processes not pinned (no sched_setaffinity or a single usable core)."
    return (
        f"Load server pinned to core {min(server)}, every client process to core {min(client)} "
        "(os.sched_setaffinity)."
    )


# -- pools -------------------------------------------------------------------------------------


class _Worker:
    def __init__(self, spec: ContenderSpec, proc: asyncio.subprocess.Process) -> None:
        self.spec = spec
        self.proc = proc

    async def call(self, message: Job, timeout: float) -> Result:
        proc = self.proc
        assert proc.stdin is not None
        assert proc.stdout is not None
        proc.stdin.write(json.dumps(message).encode() + b"\n")
        await proc.stdin.drain()
        line = await asyncio.wait_for(proc.stdout.readline(), timeout)
        if not line:
            raise RuntimeError(f"worker {self.spec.name!r} exited (see its traceback above)")
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"worker {self.spec.name!r} failed: {reply['error']}")
        result: Result = reply["result"]
        return result


async def _reap(proc: asyncio.subprocess.Process) -> None:
    """Wait for a worker that was told to exit; kill it when it does not."""
    try:
        await asyncio.wait_for(proc.wait(), 30.0)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()


class ProcessPool:
    """One long-lived worker process per contender, pinned to the client core.

    Args:
        specs: The contenders.
        args: Passed to every factory (server URL, key, sizes...), JSON-ready.
        timeout: Longest wait for one pass, in seconds.
    """

    def __init__(
        self, specs: Sequence[ContenderSpec], args: Mapping[str, Any], *, timeout: float = 300.0
    ) -> None:
        self._specs = list(specs)
        self._args = dict(args)
        self._timeout = timeout
        self._workers: dict[str, _Worker] = {}

    async def _start(self, spec: ContenderSpec) -> _Worker:
        argv = [sys.executable, "-m", "benchmarks._worker", spec.factory]
        if spec.setup:
            argv += ["--setup", spec.setup]
        proc = await asyncio.create_subprocess_exec(
            *argv, cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
        )
        pin(proc.pid, "client")
        worker = _Worker(spec, proc)
        await worker.call({"open": self._args}, self._timeout)
        return worker

    async def __aenter__(self) -> ProcessPool:
        # The parent only waits on pipes; off the client core, it never delays a pass.
        pin(0, "server")
        try:
            # Started one after the other: opening (imports, warm-up) is CPU work too.
            for spec in self._specs:
                self._workers[spec.name] = await self._start(spec)
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def run(self, name: str, job: Job) -> Result:
        """Run one pass in contender ``name``'s process."""
        return await self._workers[name].call({"run": job}, self._timeout)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        workers, self._workers = list(self._workers.values()), {}
        for worker in workers:
            proc = worker.proc
            if proc.returncode is None and proc.stdin is not None:
                proc.stdin.close()  # EOF: the worker closes its contender and exits
        for worker in workers:
            await _reap(worker.proc)
        unpin()


class InProcessPool:
    """Every contender in this process and loop (the older method; no setup hooks).

    The parent is pinned to the client core while the pool is open.
    """

    def __init__(self, specs: Sequence[ContenderSpec], args: Mapping[str, Any]) -> None:
        if any(s.setup for s in specs):
            raise ValueError("setup hooks patch the process: they need a ProcessPool")
        self._specs = list(specs)
        self._args = dict(args)
        self._contenders: dict[str, Contender] = {}

    async def __aenter__(self) -> InProcessPool:
        pin(0, "client")
        try:
            for spec in self._specs:
                self._contenders[spec.name] = await load_factory(spec.factory)(self._args)
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def run(self, name: str, job: Job) -> Result:
        """Run one pass of contender ``name`` in this loop."""
        return await self._contenders[name].run(job)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        contenders, self._contenders = list(self._contenders.values()), {}
        for contender in contenders:
            await contender.aclose()
        unpin()


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
