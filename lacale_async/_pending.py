"""``Pending``: what a process did to its key budget while the store was locked by another.

A locked store is transient (a ``sqlite3`` shell, a backup): the request goes on, decided by
the in-memory mirror, and the units it took and ended, and a 429 pause, wait here until a
transaction gets through and writes them, so that other processes count them from then on.
Filled on the event loops, written in the store's worker thread: guarded by a lock.
"""

from __future__ import annotations

import math
import threading

__all__ = ["Pending", "Snapshot"]

Row = tuple[float, bool] | None
"""``(at, live)`` of a unit to write, or None for a unit to delete (it never left)."""

Snapshot = tuple[dict[str, Row], float]
"""The units to write, by token, and the pause deadline (``-inf``: none)."""


class Pending:
    """Units and a pause the store has not been told about yet."""

    __slots__ = ("_lock", "_pause", "_units")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._units: dict[str, Row] = {}
        self._pause = -math.inf

    def __bool__(self) -> bool:
        # Read without the lock: a stale answer only delays a write to the next transaction.
        return bool(self._units) or self._pause > -math.inf

    def unit(self, token: str, at: float, *, live: bool) -> None:
        """Note a unit taken (``live``: in flight until ``at``) or ended at ``at``."""
        with self._lock:
            self._units[token] = (at, live)

    def drop(self, token: str) -> None:
        """Note that a unit never left: its row, if the store has one, goes."""
        with self._lock:
            self._units[token] = None

    def hold(self, until: float) -> None:
        """Note a pause until ``until``."""
        with self._lock:
            self._pause = max(self._pause, until)

    def unwritten(self) -> tuple[int, bool]:
        """Return how many units the store has not recorded, and whether a pause is among it."""
        with self._lock:
            units = sum(1 for row in self._units.values() if row is not None)
            return units, self._pause > -math.inf

    def snapshot(self) -> Snapshot:
        """Return a copy of what is pending, to write."""
        with self._lock:
            return dict(self._units), self._pause

    def settle(self, written: Snapshot) -> None:
        """Forget what ``written`` holds, unless it changed since it was taken."""
        units, pause = written
        with self._lock:
            for token, row in units.items():
                if token in self._units and self._units[token] == row:
                    del self._units[token]
            if self._pause == pause:
                self._pause = -math.inf
