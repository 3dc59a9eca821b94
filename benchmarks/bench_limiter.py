"""Limiter utilisation: 5N searches under a strict N-per-T server, SDK vs aiolimiter + aiohttp.

Two cases: a clean server, and one that resets 5 % of the connections right after counting
the request (the case where aiohttp's hidden re-send used to put a second arrival inside one
limiter slot).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiolimiter import AsyncLimiter

from benchmarks._baselines import SEARCH_PATH
from benchmarks._common import BENCH_DIR, Section, Target, fmt_ratio, md_table, median
from benchmarks._loadserver import LoadServer
from benchmarks._sdk import SdkFetch
from lacale_async import LaCaleError

__all__ = ["JobResult", "max_in_window", "plot", "run"]

SDK = "lacale_async search_rate=(N, T)"
AIOLIMITER = "aiolimiter.AsyncLimiter(N, T) + aiohttp, retry after Retry-After"
RESETS = " — 5 % resets"
RESET_RATE = 0.05
PNG = BENCH_DIR / "limiter.png"


@dataclass
class JobResult:
    """One bulk job, times in seconds from the job start (one monotonic clock for both sides).

    Attributes:
        total: Until the last search returned.
        arrivals: Server arrival time and status of every request (retries included).
        sends: Client-side send times, where the contender exposes them (baseline only).
        done: Client-side completion time of each search.
        failed: Searches that ended in an error.
        counted: Requests the client says it sent (``client.stats``; SDK only).
    """

    total: float
    arrivals: list[tuple[float, int]]
    sends: list[float] = field(default_factory=list)
    done: list[float] = field(default_factory=list)
    failed: int = 0
    counted: int | None = None

    @property
    def rejected(self) -> int:
        """429 answers the server sent during the job."""
        return sum(1 for _, status in self.arrivals if status == 429)


def max_in_window(times: Sequence[float], period: float) -> int:
    """Most events in any half-open window ``(t - period, t]``, the server's own rule."""
    ordered = sorted(times)
    return max(
        (i - bisect.bisect_right(ordered, t - period) + 1 for i, t in enumerate(ordered)),
        default=0,
    )


async def _sdk_job(server: LoadServer, rate: tuple[int, float], tag: str) -> JobResult:
    fetch = await SdkFetch(server.base_url, server.api_key, search_rate=rate).open()
    done: list[float] = []
    failed = 0

    async def one(i: int) -> None:
        nonlocal failed
        try:
            await fetch(f"bulk {tag} {i}")
        except LaCaleError:
            failed += 1
        done.append(time.monotonic())

    try:
        start = time.monotonic()
        await asyncio.gather(*(one(i) for i in range(5 * rate[0])))
        counted = fetch.client.stats.requests
    finally:
        await fetch.aclose()
    result = await _finish(server, start, done, [], failed)
    result.counted = counted
    return result


async def _aiolimiter_job(server: LoadServer, rate: tuple[int, float], tag: str) -> JobResult:
    limiter = AsyncLimiter(rate[0], rate[1])
    sends: list[float] = []
    done: list[float] = []
    url = server.base_url + SEARCH_PATH

    async with aiohttp.ClientSession(headers={"X-Api-Key": server.api_key}) as session:

        async def one(i: int) -> None:
            # What a careful user writes: the limiter in front, and on 429 wait Retry-After
            # and try again (through the limiter again).
            # A reset connection is retried too, through the limiter again.
            while True:
                async with limiter:
                    sends.append(time.monotonic())
                    try:
                        async with session.get(url, params={"q": f"bulk {tag} {i}"}) as resp:
                            await resp.read()
                            status = resp.status
                            retry_after = resp.headers.get("Retry-After", "1")
                    except aiohttp.ClientError:
                        status, retry_after = 0, "0"
                if status not in (0, 429):
                    break
                await asyncio.sleep(float(retry_after))
            done.append(time.monotonic())

        start = time.monotonic()
        await asyncio.gather(*(one(i) for i in range(5 * rate[0])))
    return await _finish(server, start, done, sends, 0)


async def _finish(
    server: LoadServer, start: float, done: list[float], sends: list[float], failed: int
) -> JobResult:
    arrivals = (await server.stats(arrivals=True)).arrivals
    return JobResult(
        total=max(done) - start,
        arrivals=[(a.at - start, a.status) for a in arrivals],
        sends=[s - start for s in sends],
        done=[d - start for d in done],
        failed=failed,
    )


_JOBS: dict[str, Callable[[LoadServer, tuple[int, float], str], Awaitable[JobResult]]] = {
    SDK: _sdk_job,
    AIOLIMITER: _aiolimiter_job,
}


def _trailing_counts(
    times: Sequence[float], period: float, end: float
) -> tuple[list[float], list[int]]:
    """Sample, every 5 ms, how many of ``times`` fall in the trailing window (t - period, t]."""
    ordered = sorted(times)
    xs = [i * 0.005 for i in range(int(end / 0.005) + 2)]
    ys = [bisect.bisect_right(ordered, x) - bisect.bisect_right(ordered, x - period) for x in xs]
    return xs, ys


def plot(results: dict[str, JobResult], rate: tuple[int, float], path: Path = PNG) -> None:
    """Draw requests-in-trailing-window over time for each contender against the limit line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    calls, period = rate
    end = max(max(a for a, _ in r.arrivals) for r in results.values()) + period
    fig, axes = plt.subplots(len(results), 1, figsize=(10, 3.2 * len(results)), sharex=True)
    for ax, (name, res) in zip(axes, results.items(), strict=True):
        times = [a for a, _ in res.arrivals]
        xs, ys = _trailing_counts(times, period, end)
        ax.step(xs, ys, where="post", label=f"arrivals in trailing {period:g} s window")
        ok = [a for a, s in res.arrivals if s != 429]
        ax.plot(ok, [0.3] * len(ok), "|", color="tab:green", label="accepted arrival")
        rejected = [a for a, s in res.arrivals if s == 429]
        if rejected:
            ax.plot(rejected, [0.8] * len(rejected), "x", color="tab:red", label="429")
        ax.axhline(calls, color="black", linestyle="--", label=f"limit {calls} per {period:g} s")
        ax.axvline(
            4 * period, color="grey", linestyle=":", label=f"minimum total 4T = {4 * period:g} s"
        )
        ax.set_title(f"{name}: {res.rejected} x 429, done in {res.total:.2f} s")
        ax.set_ylabel("requests")
        ax.set_ylim(0, max(max(ys), calls) + 2)
        ax.legend(loc="upper right", fontsize=7)
    axes[-1].set_xlabel("seconds since job start")
    fig.suptitle(
        f"{5 * calls} searches against a strict sliding-window server ({calls} per {period:g} s)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


async def _rounds(
    rate: tuple[int, float], rounds: int, reset_rate: float, suffix: str
) -> dict[str, list[JobResult]]:
    """Run every contender ``rounds`` times, interleaved, against one fresh load server."""
    runs: dict[str, list[JobResult]] = {name + suffix: [] for name in _JOBS}
    with LoadServer(rate=rate, record=True, reset_rate=reset_rate) as server:
        for r in range(rounds):
            for name, job in _JOBS.items():
                # Let both the server's window and any limiter history from the last job expire.
                await asyncio.sleep(rate[1] + 0.25)
                await server.reset()
                runs[name + suffix].append(await job(server, rate, f"r{r}{suffix}"))
    return runs


def _limit_targets(
    runs: list[JobResult], calls: int, period: float, cases: tuple[str, str] = ("", "")
) -> list[Target]:
    """The two claims of every case: no 429, never more than N arrivals in a window T."""
    worst = max(max_in_window([a for a, _ in j.arrivals], period) for j in runs)
    return [
        Target(
            f"SDK causes zero 429s{cases[0]}",
            all(j.rejected == 0 for j in runs),
            f"{[j.rejected for j in runs]} (per run)",
        ),
        Target(
            f"SDK never exceeds N arrivals in any window T{cases[1]}",
            worst <= calls,
            f"max {worst} (N = {calls})",
        ),
    ]


def _reset_targets(runs: list[JobResult], calls: int, period: float) -> list[Target]:
    """Claims for the reset case: no 429, no window over N, one arrival per counted request."""
    cases = (" with 5 % of connections reset after counting", " with resets")
    return [
        *_limit_targets(runs, calls, period, cases),
        Target(
            "Every arrival is a request the SDK counted (no hidden re-send)",
            all(len(j.arrivals) == j.counted for j in runs),
            f"{[(len(j.arrivals), j.counted) for j in runs]} (arrivals, counted)",
        ),
    ]


def _table(
    runs: dict[str, list[JobResult]], med_total: dict[str, float], minimum: float, period: float
) -> str:
    rows = []
    for name, jobs in runs.items():
        worst = max(max_in_window([a for a, _ in j.arrivals], period) for j in jobs)
        rows.append(
            (
                name,
                ", ".join(str(j.rejected) for j in jobs),
                f"{med_total[name]:.2f}",
                fmt_ratio(med_total[name] / minimum),
                worst,
                sum(j.failed for j in jobs),
            )
        )
    return md_table(
        (
            "Contender",
            "429s per run",
            "total s (median)",
            "vs minimum 4T",
            "max arrivals in any T window",
            "failed searches",
        ),
        rows,
    )


def _sdk_targets(sdk_runs: list[JobResult], total: float, rate: tuple[int, float]) -> list[Target]:
    """The SDK's verdicts on the clean server: no 429, near the minimum, N per window."""
    calls, period = rate
    minimum = 4 * period
    no_429, per_window = _limit_targets(sdk_runs, calls, period)
    near = Target(
        "SDK total within 5% of the minimum 4T",
        total / minimum <= 1.05,
        f"{total:.2f} s = {fmt_ratio(total / minimum)} of {minimum:g} s",
    )
    return [no_429, near, per_window]


async def _measure(quick: bool, png: Path) -> Section:
    # Quick: a half-second window keeps the smoke run short (it makes no claim).
    rate = (5, 0.5) if quick else (10, 2.0)
    rounds = 1 if quick else 3
    calls, period = rate
    minimum = 4 * period
    runs = await _rounds(rate, rounds, 0.0, "")
    reset_runs = await _rounds(rate, rounds, RESET_RATE, RESETS)

    # Plot each contender's median run (by total time), clean case.
    shown = {name: sorted(v, key=lambda j: j.total)[len(v) // 2] for name, v in runs.items()}
    plot(shown, rate, png)
    runs.update(reset_runs)
    med_total = {name: median([j.total for j in v]) for name, v in runs.items()}
    table = _table(runs, med_total, minimum, period)
    return Section(
        title=f"Rate limiter: {5 * calls} searches, strict server of {calls} per {period:g} s",
        method=(
            f"A bulk job of 5N = {5 * calls} distinct searches started at once (cache off) "
            f"against the load server in strict sliding-window mode (at most {calls} accepted "
            f"arrivals in any {period:g} s, counted at arrival, 429 + Retry-After beyond). "
            f"Theoretical minimum: 4T = {minimum:g} s (N at t=0, then N per T). {rounds} "
            "interleaved round(s), each job after the windows have expired; arrival times come "
            "from the server (same monotonic clock as the client). Then the same against a "
            f"server that aborts {RESET_RATE:.0%} of the connections right after counting the "
            "request (both contenders retry a reset through their limiter). Plot: "
            "benchmarks/limiter.png (each contender's median run, clean case)."
        ),
        table=table,
        targets=[
            *_sdk_targets(runs[SDK], med_total[SDK], rate),
            *_reset_targets(reset_runs[SDK + RESETS], calls, period),
        ],
        notes=[
            f"aiolimiter is a leaky bucket: it lets N through at once and then one every T/N, so "
            f"about 2N in the first window; the strict server rejects the excess and the "
            "Retry-After waits stretch the job to "
            f"{fmt_ratio(med_total[AIOLIMITER] / med_total[SDK])} the SDK's time.",
        ],
    )


def run(quick: bool = False, png: Path = PNG) -> Section:
    """Run the limiter benchmark and draw its plot.

    Args:
        quick: N=5, T=1 s, one round, instead of N=10, T=2 s, three rounds.
        png: Where to write the plot.

    Returns:
        The section for RESULTS.md.
    """
    return asyncio.run(_measure(quick, png))


def main() -> None:
    """Run this benchmark alone and print its section."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    print(run(parser.parse_args().quick).markdown())


if __name__ == "__main__":
    main()
