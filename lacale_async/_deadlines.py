"""One deadline table per transport, swept by a single event-loop timer.

aiohttp's ``ClientTimeout(total=...)`` builds a timeout handle, a loop timer and a timer context
for every request (1.8-3.3% of a cache miss's instructions, ``benchmarks/PROFILE.md``). Here a
request costs one small object and a dict entry; one timer per table wakes for the earliest
deadline. Every request of a table has the same timeout and the loop's clock is monotonic, so
the table's insertion order is its deadline order: the oldest live entry is the next one due,
and neither entering nor leaving needs a heap or a timer of its own.

An expired request is cancelled in its own task, and that cancellation is taken back
(``Task.uncancel``) when it surfaces: the request then ends in :class:`asyncio.TimeoutError`,
never a ``CancelledError``. A cancellation of the caller's own (``Task.cancel``, an outer
``asyncio.timeout``, an anyio scope or task group) stays a ``CancelledError``, even when it
lands in the same loop step as the deadline: the approach of ``asyncio.timeout``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import TracebackType
from typing import Any, Protocol

import msgspec

from ._cancel import pending, take_back

__all__ = ["GRANULARITY", "Bound", "Deadlines", "Scheduler"]

GRANULARITY = 0.05
"""Seconds by which an expiry may be late: the timer never wakes sooner than this after a sweep."""

# Shown by the CancelledError if anything ever lets one escape the bound.
_EXPIRED = "lacale_async: the request's deadline passed"


class _Handle(Protocol):
    def cancel(self) -> None: ...


class Scheduler(Protocol):
    """The part of an event loop a table uses: its clock and its timers (a test fakes both)."""

    def time(self) -> float:
        """Return the loop's monotonic time in seconds."""
        ...

    def call_at(self, when: float, callback: Callable[[], object], /) -> _Handle:
        """Run ``callback`` once ``time()`` has reached ``when``."""
        ...


class Bound(msgspec.Struct, eq=False):
    """One request's deadline: the ``with`` block it guards ends in ``asyncio.TimeoutError``.

    Built by :meth:`Deadlines.bound` (a struct: a C constructor, one per request), entered
    once, in the task that built it. Compared and hashed by identity (``eq=False``).
    """

    _task: asyncio.Task[Any]
    deadline: float
    _live: dict[Bound, None]
    # Cancellations already pending at entry belong to the caller.
    _cancelling: int
    _expired: bool = False

    def expire(self) -> None:
        """Cancel the guarded block's task; its exit turns that into a timeout."""
        self._expired = True
        self._task.cancel(_EXPIRED)

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._live.pop(self, None)  # already gone when the sweep expired it
        # take_back runs for every expired block: the cancellation is taken back even when
        # the block swallowed it.
        if (
            self._expired
            and take_back(self._task, self._cancelling)
            and exc_type is asyncio.CancelledError
        ):
            raise asyncio.TimeoutError from exc


class Deadlines:
    """Bounds blocks of code by one fixed timeout, with a single timer for all of them.

    The timer is armed for a block's deadline when the block enters while no timer is pending.
    When it fires it expires every block that is due and re-arms itself for the oldest one
    left, never sooner than ``granularity`` ahead (a burst of expiries costs one wake-up);
    blocks that end meanwhile are simply forgotten, and a table left empty stops its timer at
    the next wake-up. A block therefore never outlives ``timeout`` by more than
    ``granularity`` (plus the loop's own latency), and never ends early.

    Args:
        timeout: Seconds each block may run, from its entry.
        scheduler: The clock and timers; None for the running event loop, looked up on first
            use (the transport is built before its loop is known).
        granularity: See :data:`GRANULARITY`.
    """

    __slots__ = ("_given", "_granularity", "_handle", "_live", "_loop", "_timeout")

    def __init__(
        self,
        timeout: float,
        scheduler: Scheduler | None = None,
        *,
        granularity: float = GRANULARITY,
    ) -> None:
        self._timeout = timeout
        self._given = scheduler  # None: the loop itself, below
        self._granularity = granularity
        # An ordered set: oldest (hence earliest deadline) first.
        self._live: dict[Bound, None] = {}
        self._handle: _Handle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the running one, on first use

    def __len__(self) -> int:
        """Return the number of blocks in flight."""
        return len(self._live)

    @property
    def armed(self) -> bool:
        """Whether the table's timer is pending."""
        return self._handle is not None

    def bound(self) -> Bound:
        """Start the clock for the current task: ``with deadlines.bound(): ...``.

        Raises:
            RuntimeError: Called outside a task (the SDK always calls it from one).
        """
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        # Given its loop, current_task() skips get_running_loop()'s fork check: a getpid
        # system call per request on CPython 3.11.
        task = asyncio.current_task(loop)
        if task is None:
            raise RuntimeError("a deadline needs a running task")
        scheduler = self._given or loop
        deadline = scheduler.time() + self._timeout
        bound = Bound(task, deadline, self._live, pending(task))
        self._live[bound] = None
        if self._handle is None:
            self._handle = scheduler.call_at(deadline, self._sweep)
        return bound

    def _sweep(self) -> None:
        self._handle = None
        scheduler = self._given or self._loop
        if scheduler is None:  # close() forgot the loop (and cancelled this timer)
            return
        now = scheduler.time()
        live = self._live
        while live:
            oldest = next(iter(live))
            if oldest.deadline > now:
                when = max(oldest.deadline, now + self._granularity)
                self._handle = scheduler.call_at(when, self._sweep)
                return
            del live[oldest]
            oldest.expire()

    def close(self) -> None:
        """Stop the timer and forget the blocks in flight (their session is being closed)."""
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.cancel()
        self._live.clear()
        self._loop = None

    def __repr__(self) -> str:
        return f"Deadlines(timeout={self._timeout:g}, in_flight={len(self._live)})"
