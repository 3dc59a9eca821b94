"""``ExitHistory``: the sliding-window history a rate budget decides from, kept once.

An endpoint's :class:`~lacale_async._windowlog.WindowLog` and the key budget's
:class:`~lacale_async._ledger.MemoryLedger` both decide from the same record: the exit times of
finished requests, how many are in flight, and a pause. They differ only in how they decide,
so the record, its pruning and its "does anything still bind" test live here.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections import deque

from ._gate import ExitSignal

__all__ = ["ExitHistory"]


class ExitHistory:
    """Exit times, requests in flight and a pause, behind one lock; a base class.

    A subclass holds ``_lock`` while it touches the record. Every method here takes the lock
    itself except the ``_locked`` ones, which expect it held.
    """

    __slots__ = (
        "__weakref__",
        "_done",
        "_exits",
        "_horizon",
        "_in_flight",
        "_keep",
        "_lock",
        "_pause_until",
        "_users",
    )

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Who uses the history: while one lives, it is in use (and a shared one is kept).
        self._users: weakref.WeakSet[object] = weakref.WeakSet()
        # Exit times of finished requests, oldest first; exits happen in time order.
        self._done: deque[float] = deque()
        self._in_flight = 0
        self._pause_until = -math.inf
        # Pruning bounds, raised by every window seen (never lowered: cheap, safe).
        self._horizon = 0.0  # longest window + margin in use
        self._keep = 0  # largest N in use
        self._exits = ExitSignal()

    def idle_at(self, now: float) -> bool:
        """Tell whether nothing still binds at time ``now``, so forgetting loses nothing.

        Nothing binds when no user lives, no request is in flight, no recent exit counts in
        a window and no pause is running.
        """
        with self._lock:
            self._prune_locked(now)
            busy = self._users or self._in_flight or self._done
            return not busy and self._pause_until <= now

    def _widen_locked(self, calls: int, horizon: float) -> None:
        """Keep at least ``calls`` exits and every exit younger than ``horizon`` seconds."""
        self._horizon = max(self._horizon, horizon)
        self._keep = max(self._keep, calls)

    def _prune_locked(self, now: float) -> None:
        done = self._done
        while done and (len(done) > self._keep or done[0] + self._horizon <= now):
            done.popleft()

    def _exit_locked(self, now: float, *, counted: bool) -> None:
        """End a request in flight at ``now``; an uncounted one gives its unit back unspent."""
        self._in_flight -= 1
        if counted:
            done = self._done
            # Threads may stamp a hair out of order; a stamp moved later is only safer.
            done.append(max(now, done[-1]) if done else now)
        self._exits.fire()
