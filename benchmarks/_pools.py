"""Where contenders run: one long-lived worker process each, or all in this process.

A contender is named by its factory (``"benchmarks.bench_cache:open_sdk"``). A
:class:`ProcessPool` starts one worker process per contender (``benchmarks._worker``), pinned to
the client core, and sends each a job per pass over a pipe; an :class:`InProcessPool` opens the
same factories in the parent's own loop, which is how the older GC-off figures were measured.
The load server and the parent are pinned to the other core (:func:`pin`).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

__all__ = [
    "ROOT",
    "Contender",
    "ContenderSpec",
    "InProcessPool",
    "Job",
    "ProcessPool",
    "Result",
    "affinity_note",
    "cores_for",
    "load_factory",
    "pin",
    "run_setup",
    "unpin",
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
