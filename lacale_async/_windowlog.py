"""``WindowLog``: the shared, thread-safe history behind one sliding-window rate budget."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from ._gate import EPSILON, FifoGate
from ._history import ExitHistory

__all__ = ["Window", "WindowLog"]

Window = tuple[int, float, float]
"""``(calls, period, margin)``: at most ``calls`` requests in any ``period`` seconds, each one
kept ``margin`` seconds longer."""


class WindowLog(ExitHistory):
    """The shared history behind one rate-limit budget: request timestamps and the pause.

    Several :class:`~lacale_async.WindowLimiter` objects built on the same log (several clients
    using the same key and base URL, possibly with different rates) share one budget and one
    FIFO queue. They must all use the same clock. The log is bound to no event loop: clients on
    several loops (threads) share it, each waiter being woken on its own loop.

    Its history is its own: limiters (and the fleet's mirror of Redis slots) go through the
    methods below, each of which takes the log's lock itself.
    """

    __slots__ = ("_gate",)

    def __init__(self) -> None:
        super().__init__()
        # FIFO gate: the one task holding it (the head of the queue) decides admissions.
        self._gate = FifoGate()

    @property
    def in_flight(self) -> int:
        """How many requests are inside a slot right now."""
        return self._in_flight

    @property
    def pause_until(self) -> float:
        """Clock time before which nobody is let in (``-inf`` when not paused)."""
        return self._pause_until

    def register(self, windows: Sequence[Window], user: object) -> None:
        """Keep enough history for ``windows``, those of a limiter that uses this log.

        Args:
            windows: The limiter's windows.
            user: The limiter itself: the log is in use for as long as it lives.
        """
        with self._lock:
            self._users.add(user)
            for calls, period, margin in windows:
                self._widen_locked(calls, period + margin)

    def pause(self, until: float) -> None:
        """Let nobody in before clock time ``until`` (a pause only ever moves later)."""
        with self._lock:
            if until > self._pause_until:
                self._pause_until = until

    async def wait_turn(self) -> None:
        """Queue (first come, first served) to be the one caller deciding admissions."""
        await self._gate.enter()

    def end_turn(self) -> None:
        """Hand the turn to the next caller in the queue."""
        self._gate.leave()

    def try_admit(
        self, now: float, windows: Sequence[Window]
    ) -> float | asyncio.Future[None] | None:
        """Admit one request at clock time ``now`` under ``windows``, or say what to wait for.

        The decision and the admission happen under the lock: another thread's exit between
        "every slot is busy" and "wait for an exit" cannot be missed.

        Returns:
            None when admitted; else the seconds to sleep before asking again, or a future
            that an exit resolves (every slot is taken by a running request).
        """
        with self._lock:
            wait = self._delay_locked(now, windows)
            if wait is None:
                return self._exits.arm()
            if wait > EPSILON:
                return wait
            self._prune_locked(now)
            self._in_flight += 1
            return None

    def admit(self) -> None:
        """Count one request in flight, admitted elsewhere (the fleet's mirror of Redis slots)."""
        with self._lock:
            self._in_flight += 1

    def release(self, now: float, *, counted: bool = True) -> None:
        """End a request in flight at clock time ``now``.

        Args:
            now: When its answer arrived (or it failed).
            counted: False when it never reached the server: its slot is given back unspent.
        """
        with self._lock:
            self._prune_locked(now)
            self._exit_locked(now, counted=counted)

    def _delay_locked(self, now: float, windows: Sequence[Window]) -> float | None:
        """Seconds to wait before one more request may enter, or None to await an exit."""
        wait = self._pause_until - now
        in_flight = self._in_flight
        done = self._done
        for calls, period, margin in windows:
            if in_flight >= calls:
                return None  # every slot of this window is taken by a running request
            need = calls - in_flight  # the need-th most recent exit must be old enough
            if len(done) >= need:
                wait = max(wait, done[-need] + period + margin - now)
        return wait

    def __repr__(self) -> str:
        return f"WindowLog(in_flight={self._in_flight}, recent={len(self._done)})"
