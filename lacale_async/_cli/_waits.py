"""What the command is waiting for: rate-limit waits seen as they happen, and a spinner.

The client's own statistics sum the limiter waits of every call, which exceeds the run's
duration as soon as calls queue together (500 searches waiting side by side for 10 s add up to
far more than 10 s). The command gives the client :meth:`WaitWatch.observe` as its ``on_wait``
to know, at any moment, which limits have callers queued (an endpoint's limiter, or the
key-wide budget), and the wall-clock time during which at least one call was waiting: what the
stats line and the spinner show.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

from rich.console import Console

from .._wait_event import WaitEvent
from ._background import beside

__all__ = ["WaitWatch", "spinner"]

SPINNER_DELAY = 1.0
"""Seconds of waiting before the spinner appears: a quick command shows nothing."""


def _per(calls: int, period: float) -> str:
    return f"{calls} per {period:g} s"


# How a wait for the key-wide budget is named, beside the endpoints' names.
_KEY_BUDGET = "key budget"


class WaitWatch:
    """Tracks the calls waiting on rate limits, per limit, and the wall-clock time spent so.

    Args:
        now: Monotonic time source in seconds (tests pass a fake one).
    """

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._waiting: dict[str, int] = {}
        self._rates: dict[str, str] = {}
        self._since: float | None = None
        self._wall = 0.0
        self.summed = 0.0
        """Seconds waited, summed over every call (what the client's stats report)."""

    def observe(self, event: WaitEvent) -> None:
        """Take one of the client's wait events (give this as the client's ``on_wait``)."""
        limit = event.endpoint if event.limit == "endpoint" else _KEY_BUDGET
        if event.ended:
            self.end(limit, self._now() - event.waited)
            return
        if event.rates:
            self._rates[limit] = ", ".join(_per(n, t) for n, t in event.rates)
        self.begin(limit)

    @property
    def wall(self) -> float:
        """Seconds during which at least one call was waiting on a limiter."""
        ongoing = self._now() - self._since if self._since is not None else 0.0
        return self._wall + ongoing

    def begin(self, endpoint: str) -> float:
        """Note that one call starts waiting on ``endpoint``'s limit; return the time."""
        now = self._now()
        if not any(self._waiting.values()):
            self._since = now
        self._waiting[endpoint] = self._waiting.get(endpoint, 0) + 1
        return now

    def end(self, endpoint: str, started: float) -> None:
        """Note that a call that began waiting at ``started`` stopped waiting."""
        now = self._now()
        self.summed += now - started
        self._waiting[endpoint] -= 1
        if not any(self._waiting.values()) and self._since is not None:
            self._wall += now - self._since
            self._since = None

    def describe(self) -> str | None:
        """Say which rate limits hold calls back right now, or None when none does."""
        held = sorted(e for e, n in self._waiting.items() if n)
        if not held:
            return None
        parts = []
        for endpoint in held:
            rate = self._rates.get(endpoint)
            parts.append(f"{endpoint} ({rate})" if rate else endpoint)
        return "waiting for the rate limit: " + ", ".join(parts)


@contextlib.asynccontextmanager
async def spinner(
    watch: WaitWatch, console: Console, *, delay: float = SPINNER_DELAY
) -> AsyncIterator[None]:
    """Show a transient spinner on ``console`` while the block runs longer than ``delay``.

    It says why the command waits: a rate limit (named) or the tracker's answer. Nothing is
    shown on a console that is not a terminal.

    Args:
        watch: Where limiter waits are seen.
        console: The stderr console.
        delay: Seconds before the spinner appears.
    """
    if not console.is_terminal:
        yield
        return
    async with beside(_spin(watch, console, delay)):
        yield


async def _spin(watch: WaitWatch, console: Console, delay: float) -> None:
    await asyncio.sleep(delay)
    with console.status("waiting for the tracker to answer") as status:
        while True:
            status.update(watch.describe() or "waiting for the tracker to answer")
            await asyncio.sleep(0.1)
