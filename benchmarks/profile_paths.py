"""Profile the SDK's cache-miss and cache-hit paths next to a baseline, through the bench factories.

Subcommands (``python -m benchmarks.profile_paths SUBCOMMAND --path miss|hit``):

* ``calls``: cProfile call counts and own time per request, and where they differ from the
  baseline's (raw aiohttp + msgspec for a miss, async-lru for a hit).
* ``garbage``: per request, the collector's net allocation count, the tracked objects left
  alive, and the cyclic garbage (objects only the cyclic collector frees); collections per
  1,000 requests with the collector on.
* ``valgrind``: instructions and allocator calls per request under callgrind, differential
  (two runs of different lengths, so start-up and warm-up cancel out): deterministic figures,
  untouched by the load of a shared machine. Needs ``valgrind`` (``apt-get install valgrind``).
* ``entry``: what one cached search entry holds, by object type, SDK vs async-lru.
* ``run``: only run the path, for an outside profiler, e.g.
  ``py-spy record -o miss.svg -- python -m benchmarks.profile_paths run --path miss``.

``--setup path.py:function`` applies an ablation (a monkeypatch kept outside the repository)
before the SDK opens; it uses only the factories of ``bench_throughput`` and ``bench_cache``,
so it keeps working when the SDK's internals move.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import os
import pstats
import re
import subprocess
import sys
import tempfile
import tracemalloc
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from benchmarks._common import drive
from benchmarks._loadserver import API_KEY, LoadServer
from benchmarks._pools import ROOT, Contender, load_factory, run_setup

__all__ = ["main"]

_FACTORIES = {
    ("miss", "sdk"): "benchmarks.bench_throughput:open_sdk",
    ("miss", "floor"): "benchmarks.bench_throughput:open_floor",
    ("miss", "json"): "benchmarks.bench_throughput:open_json",
    ("hit", "sdk"): "benchmarks.bench_cache:open_sdk",
    ("hit", "sdk-key"): "benchmarks.bench_cache:open_sdk_key",
    ("hit", "alru"): "benchmarks.bench_cache:open_alru",
    ("hit", "dict"): "benchmarks.bench_cache:open_dict",
}
_BASELINE = {"miss": "floor", "hit": "alru"}
# The allocator entry points whose calls count as allocations (pymalloc and the raw domain).
_ALLOCATORS = ("_PyObject_Malloc", "_PyObject_Calloc", "_PyMem_RawMalloc", "_PyMem_RawCalloc")


def _job(path: str, n: int, tag: str, server_pid: int, concurrency: int) -> dict[str, Any]:
    if path == "miss":
        return {
            "count": n,
            "tag": tag,
            "gc": True,
            "server_pid": server_pid,
            "concurrency": concurrency,
        }
    return {"calls": n, "gc": True}


@contextlib.asynccontextmanager
async def _opened(path: str, who: str, base_url: str) -> AsyncIterator[Contender]:
    """Open a contender of ``path`` on the load server at ``base_url``; close it after."""
    args: Mapping[str, Any] = {"base_url": base_url, "api_key": API_KEY}
    contender = await load_factory(_FACTORIES[path, who])(args)
    try:
        yield contender
    finally:
        await contender.aclose()


# -- calls -------------------------------------------------------------------------------------


def _short(key: tuple[str, int, str]) -> str:
    filename, line, name = key
    for marker in ("site-packages/", "/lib/python3.", "benchmarks/", "lacale_async/"):
        if marker in filename:
            tail = filename.split(marker, 1)[1]
            filename = tail if marker != "/lib/python3." else "stdlib/" + tail.split("/", 1)[-1]
            if marker == "lacale_async/":
                filename = marker + filename
            break
    return f"{filename}:{line}({name})" if line else name


def _profile(path: str, who: str, n: int, concurrency: int) -> dict[str, tuple[float, float]]:
    """Per function: (calls per request, own microseconds per request), profiled."""
    with LoadServer() as server:

        async def go() -> cProfile.Profile:
            async with _opened(path, who, server.base_url) as contender:
                await contender.run(_job(path, max(100, n // 10), "warm", server.pid, concurrency))
                profiler = cProfile.Profile()
                profiler.enable()
                await contender.run(_job(path, n, "profiled", server.pid, concurrency))
                profiler.disable()
                return profiler

        stats = pstats.Stats(asyncio.run(go()))
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    return {_short(k): (v[1] / n, v[2] * 1e6 / n) for k, v in raw.items()}


def _calls(args: argparse.Namespace) -> None:
    ours = _profile(args.path, args.contender, args.requests, args.concurrency)
    base_who = _BASELINE[args.path]
    base = _profile(args.path, base_who, args.requests, args.concurrency)
    for who, table in ((args.contender, ours), (base_who, base)):
        calls = sum(c for c, _ in table.values())
        own = sum(t for _, t in table.values())
        print(f"{who:>8}: {calls:7.1f} calls / request, {own:7.1f} µs / request (profiled)")
    print(f"\nTop {args.top} by own time, {args.contender}:")
    for name, (c, t) in sorted(ours.items(), key=lambda kv: -kv[1][1])[: args.top]:
        print(f"  {t:7.2f} µs  {c:6.2f} calls  {name}")
    print(f"\nLargest differences in calls per request, {args.contender} - {base_who}:")
    names = sorted(set(ours) | set(base), key=lambda k: -abs(_get(ours, k) - _get(base, k)))
    for name in names[: args.top]:
        delta = _get(ours, name) - _get(base, name)
        if abs(delta) < 0.05:
            break
        own = ours.get(name, (0.0, 0.0))[1] - base.get(name, (0.0, 0.0))[1]
        print(f"  {delta:+6.2f} calls  {own:+7.2f} µs  {name}")


def _get(table: dict[str, tuple[float, float]], name: str) -> float:
    return table.get(name, (0.0, 0.0))[0]


# -- garbage -----------------------------------------------------------------------------------


async def _garbage_of(path: str, who: str, n: int, concurrency: int) -> dict[str, float]:
    with LoadServer() as server:
        async with _opened(path, who, server.base_url) as contender:
            await contender.run(_job(path, max(100, n // 10), "warm", server.pid, concurrency))
            collections = sum(g["collections"] for g in gc.get_stats())
            await contender.run(_job(path, n, "gc-on", server.pid, concurrency))
            collections = sum(g["collections"] for g in gc.get_stats()) - collections
            gc.collect()
            gc.disable()
            gc.set_debug(gc.DEBUG_SAVEALL)
            try:
                alive0 = len(gc.get_objects())
                job = _job(path, n, "gc-off", server.pid, concurrency) | {"gc": False}
                # The pass starts with a collection, which zeroes the count: what it reads
                # after the pass is the net number of tracked allocations the pass made.
                await contender.run(job)
                count = gc.get_count()[0]
                alive = len(gc.get_objects()) - alive0
                gc.collect()
                garbage = Counter(type(o).__qualname__ for o in gc.garbage)
                gc.garbage.clear()
            finally:
                gc.set_debug(0)
                gc.enable()
    result = {
        "collections per 1k requests (GC on)": 1000 * collections / n,
        "net tracked allocations per request": count / n,
        "tracked objects left alive per request": alive / n,
        "cyclic garbage objects per request": sum(garbage.values()) / n,
    }
    result |= {f"  garbage: {t}": c / n for t, c in garbage.most_common(8)}
    return result


def _garbage(args: argparse.Namespace) -> None:
    for who in (args.contender, _BASELINE[args.path]):
        print(f"{who}:")
        figures = asyncio.run(_garbage_of(args.path, who, args.requests, args.concurrency))
        for label, value in figures.items():
            print(f"  {value:8.2f}  {label}")


# -- valgrind ----------------------------------------------------------------------------------


def _callgrind_counts(out_file: Path) -> tuple[int, int]:
    """Total instructions and calls to the allocator entry points, from a callgrind file."""
    names: dict[str, str] = {}
    allocations = 0
    target = ""
    text = out_file.read_text(errors="replace")
    summary = re.search(r"^summary:\s+(\d+)", text, re.MULTILINE)
    if summary is None:
        raise RuntimeError(f"no summary line in {out_file}")
    total = int(summary.group(1))
    for line in text.splitlines():
        if line.startswith("cfn="):
            ref = line[4:]
            m = re.match(r"\((\d+)\)(?: (.*))?", ref)
            if m:
                if m.group(2):
                    names[m.group(1)] = m.group(2)
                target = names.get(m.group(1), "")
            else:
                target = ref
        elif line.startswith("calls=") and target in _ALLOCATORS:
            allocations += int(line[6:].split()[0])
        elif line.startswith("fn="):
            m = re.match(r"fn=\((\d+)\)(?: (.*))?", line)
            if m and m.group(2):
                names[m.group(1)] = m.group(2)
    return total, allocations


def _valgrind_run(
    args: argparse.Namespace, who: str, n: int, server: LoadServer
) -> tuple[int, int]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        argv = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            sys.executable,
            "-m",
            "benchmarks.profile_paths",
            "_child",
            "--path",
            args.path,
            "--contender",
            who,
            "--requests",
            str(n),
            "--concurrency",
            str(args.concurrency),
            "--base-url",
            server.base_url,
            "--server-pid",
            str(server.pid),
        ]
        if args.setup and who == args.contender:
            argv += ["--setup", args.setup]
        # A fixed hash seed: the two runs then differ only by their length.
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        subprocess.run(argv, cwd=ROOT, env=env, check=True, capture_output=True)
        return _callgrind_counts(out)


def _valgrind(args: argparse.Namespace) -> None:
    n1 = args.requests // 5
    # Four valgrind runs outlast the server's default 900 s on a loaded machine (the floor's
    # last run then fails); it still exits with this process (--parent-pid).
    with LoadServer(timeout=4 * 3600) as server:
        rows = []
        for who in (args.contender, _BASELINE[args.path]):
            i1, a1 = _valgrind_run(args, who, n1, server)
            i2, a2 = _valgrind_run(args, who, args.requests, server)
            span = args.requests - n1
            rows.append((who, (i2 - i1) / span, (a2 - a1) / span))
    base = rows[-1]
    for who, ir, allocs in rows:
        print(
            f"{who:>8}: {ir:12,.0f} instructions / request ({ir / base[1]:.3f}x the baseline), "
            f"{allocs:8.1f} allocations / request"
        )


async def _child(args: argparse.Namespace) -> None:
    job = _job(args.path, args.requests, "valgrind", args.server_pid, args.concurrency)
    async with _opened(args.path, args.contender, args.base_url) as contender:
        await contender.run(job)


# -- entry -------------------------------------------------------------------------------------


def _entry(args: argparse.Namespace) -> None:
    """Where the memory one cached entry keeps comes from: tracemalloc, by allocating line."""
    from benchmarks.bench_memory import open_alru, open_sdk

    entries = 200
    queries = [f"entrée {i}" for i in range(entries)]
    with LoadServer() as server:
        for label, factory in (("sdk", open_sdk), ("alru", open_alru)):

            async def fill(factory: Any = factory) -> list[tracemalloc.StatisticDiff]:
                fill = await factory({"base_url": server.base_url, "api_key": API_KEY})
                try:
                    await drive(fill.uncached, queries, 16)
                    gc.collect()
                    tracemalloc.start()
                    before = tracemalloc.take_snapshot()
                    await drive(fill.cached, queries, 16)
                    gc.collect()
                    after = tracemalloc.take_snapshot()
                    tracemalloc.stop()
                    return after.compare_to(before, "lineno")
                finally:
                    await fill.aclose()

            diff = asyncio.run(fill())
            total = sum(d.size_diff for d in diff)
            print(f"{label}: {total / entries / 1024:.1f} KiB per entry, by allocating line")
            for d in diff[: args.top]:
                if d.size_diff <= 0:
                    continue
                frame = d.traceback[0]
                where = _short((frame.filename, frame.lineno, ""))
                size, count = d.size_diff / entries, d.count_diff / entries
                print(f"  {size:8.0f} B  {count:6.1f} blocks  {where}")


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "command", choices=("calls", "garbage", "valgrind", "entry", "run", "_child")
    )
    parser.add_argument("--path", choices=("miss", "hit"), default="miss")
    parser.add_argument("--contender", default="sdk", help="sdk, sdk-key, floor, json, alru, dict")
    parser.add_argument("--requests", type=int, default=0, help="requests (hits) per pass")
    parser.add_argument("--concurrency", type=int, default=16, help="miss path workers")
    parser.add_argument("--setup", help="path.py:function, an ablation applied to the SDK")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--base-url", default="")
    parser.add_argument("--server-pid", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.requests:
        args.requests = {"miss": 3000, "hit": 200_000}[args.path]
        if args.command == "valgrind":
            args.requests = {"miss": 2500, "hit": 100_000}[args.path]
    if args.setup and args.command != "valgrind":
        run_setup(args.setup)  # valgrind applies it in the child it profiles
    if args.command == "_child":
        asyncio.run(_child(args))
    elif args.command == "run":
        with LoadServer() as server:

            async def go() -> None:
                job = _job(args.path, args.requests, "run", server.pid, args.concurrency)
                async with _opened(args.path, args.contender, server.base_url) as contender:
                    await contender.run(job)

            asyncio.run(go())
    else:
        {"calls": _calls, "garbage": _garbage, "valgrind": _valgrind, "entry": _entry}[
            args.command
        ](args)


if __name__ == "__main__":
    main()
