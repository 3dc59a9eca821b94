"""What the command is waiting for: rate-limiter waits seen as they happen, and a spinner.

The client's own statistics sum the limiter waits of every call, which exceeds the run's
duration as soon as calls queue together (500 searches waiting side by side for 10 s add up to
far more than 10 s). The command wraps each endpoint's limiter in :class:`WaitWatch` to know, at
any moment, which endpoints have callers queued, and the wall-clock time during which at least
one call was waiting: what the stats line and the spinner show.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from types import TracebackType

from rich.console import Console

from .._limiter import RateLimiter

__all__ = ["WaitWatch", "spinner"]

SPINNER_DELAY = 1.0
"""Seconds of waiting before the spinner appears: a quick command shows nothing."""


def _per(calls: int, period: float) -> str:
    return f"{calls} per {period:g} s"


class WaitWatch:
    """Tracks the calls waiting on limiters, per endpoint, and the wall-clock time spent so.

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

    def wrap(
        self, endpoint: str, limiter: RateLimiter, rates: Sequence[tuple[int, float]] = ()
    ) -> RateLimiter:
        """Return ``limiter`` with its waits reported to this watch.

        Args:
            endpoint: ``search``, ``meta``, ``upload`` or ``download``.
            limiter: The limiter the client would use.
            rates: Its ``(calls, period)`` pairs, named when explaining a wait.

        Returns:
            A :class:`RateLimiter` that behaves exactly like ``limiter``.
        """
        self._rates[endpoint] = ", ".join(_per(n, t) for n, t in rates)
        return _Watched(self, endpoint, limiter)

    @property
    def wall(self) -> float:
        """Seconds during which at least one call was waiting on a limiter."""
        ongoing = self._now() - self._since if self._since is not None else 0.0
        return self._wall + ongoing

    def begin(self, endpoint: str) -> float:
        """Note that one call starts waiting on ``endpoint``'s limiter; return the time."""
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


class _Watched:
    """A limiter wrapper: the same slots and pauses, with each wait reported."""

    def __init__(self, watch: WaitWatch, endpoint: str, inner: RateLimiter) -> None:
        self._watch = watch
        self._endpoint = endpoint
        self._inner = inner

    def slot(self) -> AbstractAsyncContextManager[None]:
        return _WatchedSlot(self._watch, self._endpoint, self._inner.slot())

    async def pause(self, seconds: float) -> None:
        await self._inner.pause(seconds)


class _WatchedSlot:
    def __init__(
        self, watch: WaitWatch, endpoint: str, inner: AbstractAsyncContextManager[None]
    ) -> None:
        self._watch = watch
        self._endpoint = endpoint
        self._inner = inner

    async def __aenter__(self) -> None:
        started = self._watch.begin(self._endpoint)
        try:
            await self._inner.__aenter__()
        finally:
            self._watch.end(self._endpoint, started)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        return await self._inner.__aexit__(exc_type, exc, tb)


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
    task = asyncio.ensure_future(_spin(watch, console, delay))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _spin(watch: WaitWatch, console: Console, delay: float) -> None:
    await asyncio.sleep(delay)
    with console.status("waiting for the tracker to answer") as status:
        while True:
            status.update(watch.describe() or "waiting for the tracker to answer")
            await asyncio.sleep(0.1)
