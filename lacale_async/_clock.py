"""The time source behind every limiter, cache and retry delay, replaceable in tests."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
import time
from collections.abc import Callable, Iterator
from typing import Protocol, cast, runtime_checkable

import anyio

from ._errors import ValidationError
from ._options import YEAR, check_bool, check_number, describe, is_count

# Fake time starts anywhere finite; a float can still be advanced from there.
_BIG = 1e300

# The latest fake wall time to start from: 9999-12-31T23:59:59Z (datetime's last second) less
# a year, so the key budget's dates (a wall time plus a period of up to a year) stay valid.
_WALL_MAX = 253_402_300_799.0 - YEAR

__all__ = [
    "FAKE_WALL_START",
    "Clock",
    "FakeClock",
    "MonotonicClock",
    "off_loop_hold",
    "wall_clock",
]

FAKE_WALL_START = 1_767_225_600.0
"""The wall-clock time (2026-01-01T00:00:00Z) a :class:`FakeClock` reads at its start by default."""


@runtime_checkable
class Clock(Protocol):
    """A monotonic time source and the matching way to wait.

    Everything in the SDK that depends on time (rate limiters, cache expiry, retry backoff)
    reads ``now()`` and waits with ``sleep()`` of one clock, so a test can swap in a fake one
    and never sleep for real.

    A clock may also have ``wall()``, the matching wall-clock time in Unix seconds: the key-wide
    budget is kept in wall-clock time because it must survive a restart (monotonic time does
    not). A clock without it gets one anchored to ``time.time()`` when first read (see
    :func:`wall_clock`), so this protocol stays what it always was.
    """

    def now(self) -> float:
        """Return the current time in seconds; only differences between readings matter."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait until ``now()`` has advanced by at least ``seconds``."""
        ...


class MonotonicClock:
    """The real clock: ``time.monotonic`` and ``anyio.sleep``."""

    __slots__ = ()

    # The C function itself, not a wrapper: the cache-hit path reads the clock on every call.
    now = staticmethod(time.monotonic)
    wall = staticmethod(time.time)

    # Every instance reads the same time: equal, so clients built with separate instances
    # still share one rate budget (the budget registries are keyed by clock).
    def __eq__(self, other: object) -> bool:
        return isinstance(other, MonotonicClock)

    def __hash__(self) -> int:
        return hash(MonotonicClock)

    async def sleep(self, seconds: float) -> None:
        """Sleep for ``seconds`` (nothing for zero or negative values, but still yield)."""
        await anyio.sleep(max(0.0, seconds))

    def __repr__(self) -> str:
        return "MonotonicClock()"


class FakeClock:
    """A :class:`Clock` for tests: time only moves when told to, or when every task is waiting.

    ``sleep(d)`` registers the deadline ``now() + d`` and waits for it. Time moves in two ways:

    * :meth:`advance` moves it forward by hand and wakes every sleeper that is due;
    * with ``auto_advance`` (the default), once the event loop has nothing left to run but
      sleepers of this clock, time jumps straight to the earliest deadline, like trio's
      ``MockClock`` with ``autojump_threshold=0``. A test that makes 200 tasks queue on a rate
      limiter for an hour of fake time therefore finishes in milliseconds of real time.

    Sleepers with the same deadline wake in the order they went to sleep, so runs are
    deterministic. When nobody sleeps, nothing is scheduled: the clock never spins the loop.

    The auto-advance assumes everything time-related goes through this clock: a task blocked on
    real I/O or on a real timer does not hold time back. It runs on asyncio (the SDK's loop).

    ``wall()`` moves with ``now()``: pass ``wall_start`` to simulate a restart (a new clock that
    starts where an earlier one's wall time left off, plus the downtime).

    Args:
        start: The value ``now()`` returns before time has moved.
        auto_advance: Jump to the next deadline whenever the loop is otherwise idle.
        idle_rounds: How many consecutive idle loop iterations count as "everyone is waiting".
        wall_start: The value ``wall()`` returns before time has moved (Unix seconds, from 0
            to the year 9998).

    Raises:
        ValidationError: An option of the wrong type or out of range.
    """

    __slots__ = (
        "_active",
        "_heap",
        "_idle",
        "_jumper_loop",
        "_live",
        "_now",
        "_outside",
        "_seq",
        "_wall_offset",
        "auto_advance",
        "idle_rounds",
    )

    def __init__(
        self,
        start: float = 0.0,
        *,
        auto_advance: bool = True,
        idle_rounds: int = 3,
        wall_start: float = FAKE_WALL_START,
    ) -> None:
        if not is_count(idle_rounds):
            raise ValidationError(f"idle_rounds must be an int >= 1, got {describe(idle_rounds)}")
        if (
            isinstance(start, bool)
            or not isinstance(start, (int, float))
            or not -_BIG < start < _BIG
        ):
            raise ValidationError(f"start must be a finite number, got {describe(start)}")
        check_bool(auto_advance, "auto_advance")
        self._now = float(start)
        # Checked like start: float("123") or float(None) used to pass or raise raw, and nan
        # or 1e300 only failed at the first budget date (client.quota()).
        wall = check_number(
            wall_start, "wall_start", 0.0, _WALL_MAX, unit=" of Unix seconds", error=ValidationError
        )
        self._wall_offset = wall - self._now
        # (deadline, registration order, future): the order breaks ties deterministically.
        self._heap: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._live = 0
        self._active = 0  # bumped on every register/wake/cancel: "something happened"
        self._idle = 0
        self._jumper_loop: asyncio.AbstractEventLoop | None = None
        self._outside = 0
        self.auto_advance = auto_advance
        self.idle_rounds = idle_rounds

    def now(self) -> float:
        """Return the fake time."""
        return self._now

    def wall(self) -> float:
        """Return the fake wall-clock time (Unix seconds), moving with :meth:`now`."""
        return self._now + self._wall_offset

    @property
    def sleepers(self) -> int:
        """How many tasks are currently sleeping on this clock."""
        return self._live

    async def sleep(self, seconds: float) -> None:
        """Wait until the fake time has advanced by ``seconds`` (just yield for ``<= 0``).

        Args:
            seconds: How long to wait in fake seconds.
        """
        if not seconds > 0:  # also catches NaN
            await asyncio.sleep(0)
            return
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._heap, (self._now + seconds, next(self._seq), fut))
        self._live += 1
        self._active += 1
        if self.auto_advance and self._jumper_loop is None:
            self._jumper_loop = loop
            self._idle = 0
            loop.call_soon(self._jumper_round)
        try:
            await fut
        finally:
            self._live -= 1
            self._active += 1
            if not fut.done():
                # Cancelled: the heap entry is dropped lazily, a done future marks it dead.
                fut.cancel()

    @contextlib.contextmanager
    def holding(self) -> Iterator[None]:
        """Keep the fake time still while the SDK awaits its own work outside the loop.

        The quota store's transactions run in a worker thread and read this clock: they take
        real time, during which the loop looks idle, and a jump meanwhile would move time
        under a decision being made. Blocking I/O of the test itself is not held back.
        """
        self._outside += 1
        try:
            yield
        finally:
            self._outside -= 1
            self._active += 1

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` and wake every sleeper whose deadline has come.

        The woken tasks run as soon as the caller yields to the event loop.

        Args:
            seconds: How far to move, ``>= 0``.

        Raises:
            ValidationError: ``seconds`` is negative or not finite.
        """
        if not (seconds >= 0 and math.isfinite(seconds)):
            raise ValidationError(f"advance() needs a finite delay >= 0, got {seconds!r}")
        self._now += seconds
        self._wake_due()

    def _wake_due(self) -> None:
        heap = self._heap
        while heap and (heap[0][2].done() or heap[0][0] <= self._now):
            _, _, fut = heapq.heappop(heap)
            if not fut.done():
                fut.set_result(None)
                self._active += 1

    def _jumper_round(self) -> None:
        loop = self._jumper_loop
        assert loop is not None
        if self._live == 0 or not self.auto_advance:
            self._jumper_loop = None  # nobody sleeps: stop, so an idle loop stays idle
            return
        # ``_ready`` holds the callbacks (task steps included) the loop will run next; empty
        # means every task is blocked. Loops without it fall back to counting quiet rounds.
        ready = getattr(loop, "_ready", None)
        busy = (ready is not None and len(ready) > 0) or self._outside > 0
        if busy or self._active:
            self._idle = 0
            self._active = 0
        else:
            self._idle += 1
            if self._idle >= self.idle_rounds:
                self._idle = 0
                self._jump()
        loop.call_soon(self._jumper_round)

    def _jump(self) -> None:
        heap = self._heap
        while heap and heap[0][2].done():
            heapq.heappop(heap)
        if heap:
            self._now = max(self._now, heap[0][0])
            self._wake_due()

    def __repr__(self) -> str:
        return f"FakeClock(now={self._now!r}, sleepers={self._live})"


def wall_clock(clock: Clock) -> Callable[[], float]:
    """Return the wall-clock reader matching ``clock``: its ``wall()``, or one anchored to it.

    Args:
        clock: Any :class:`Clock`.

    Returns:
        A function returning Unix seconds. For a clock without ``wall()``, it is
        ``time.time()`` read once, moved on by ``clock.now()`` since: so waits computed in
        wall time end when the clock says so, even on a test's own clock.
    """
    wall = getattr(clock, "wall", None)
    if callable(wall):
        return cast("Callable[[], float]", wall)
    anchor_wall, anchor_now = time.time(), clock.now()
    return lambda: anchor_wall + (clock.now() - anchor_now)


def off_loop_hold(clock: Clock) -> Callable[[], contextlib.AbstractContextManager[None]]:
    """Return what keeps ``clock`` still while the SDK awaits a worker thread (see FakeClock).

    Args:
        clock: Any :class:`Clock`.

    Returns:
        :meth:`FakeClock.holding` for a fake clock; a no-op for the others (real time moves by
        itself, and a clock of the user's own has no auto-advance to hold back).
    """
    if isinstance(clock, FakeClock):
        return clock.holding
    return contextlib.nullcontext
