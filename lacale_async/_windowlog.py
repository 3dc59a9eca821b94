"""``WindowLog``: the shared, thread-safe history behind one sliding-window rate budget."""

from __future__ import annotations

import asyncio
import math
import threading
from collections import deque
from collections.abc import Sequence

from ._gate import ExitSignal, FifoGate

__all__ = ["WindowLog"]


class WindowLog:
    """The shared history behind one rate-limit budget: request timestamps and the pause.

    Several :class:`~lacale_async.WindowLimiter` objects built on the same log (several clients
    using the same key and base URL, possibly with different rates) share one budget and one
    FIFO queue. They must all use the same clock. The log is bound to no event loop: clients on
    several loops (threads) share it, each waiter being woken on its own loop.

    The ``_``-methods are the limiter's seam; every one that reads or writes the history holds
    :attr:`lock` itself, or expects its caller to (those named ``_locked``).
    """

    __slots__ = (
        "__weakref__",
        "_done",
        "_exits",
        "_gate",
        "_horizon",
        "_in_flight",
        "_keep",
        "_pause_until",
        "lock",
    )

    def __init__(self) -> None:
        self.lock = threading.Lock()
        # Exit times of finished requests, oldest first; exits happen in time order.
        self._done: deque[float] = deque()
        self._in_flight = 0
        self._pause_until = -math.inf
        # Pruning bounds, raised by every limiter that registers (never lowered: cheap, safe).
        self._horizon = 0.0  # longest window + margin in use
        self._keep = 0  # largest N in use
        # FIFO gate: the one task holding it (the head of the queue) decides admissions.
        self._gate = FifoGate()
        self._exits = ExitSignal()

    @property
    def in_flight(self) -> int:
        """How many requests are inside a slot right now."""
        return self._in_flight

    @property
    def pause_until(self) -> float:
        """Clock time before which nobody is let in (``-inf`` when not paused)."""
        return self._pause_until

    def _register(self, rates: Sequence[tuple[int, float, float]]) -> None:
        with self.lock:
            for calls, period, margin in rates:
                self._horizon = max(self._horizon, period + margin)
                self._keep = max(self._keep, calls)

    def _prune_locked(self, now: float) -> None:
        done = self._done
        while done and (len(done) > self._keep or done[0] + self._horizon <= now):
            done.popleft()

    def _pause(self, until: float) -> None:
        with self.lock:
            if until > self._pause_until:
                self._pause_until = until

    async def _enter_gate(self) -> None:
        await self._gate.enter()

    def _leave_gate(self) -> None:
        self._gate.leave()

    def _arm_exit_locked(self) -> asyncio.Future[None]:
        return self._exits.arm()

    def _admit_locked(self, now: float) -> None:
        self._prune_locked(now)
        self._in_flight += 1

    def _admit(self) -> None:
        with self.lock:
            self._in_flight += 1

    def _release(self, now: float, *, counted: bool = True) -> None:
        with self.lock:
            self._in_flight -= 1
            self._prune_locked(now)
            if counted:
                done = self._done
                # Threads may stamp a hair out of order; a stamp moved later is only safer.
                self._done.append(max(now, done[-1]) if done else now)
            self._exits.fire()

    def __repr__(self) -> str:
        return f"WindowLog(in_flight={self._in_flight}, recent={len(self._done)})"
