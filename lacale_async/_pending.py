"""``Pending``: what a process did to its key budget while the store was locked by another.

A locked store is transient (a ``sqlite3`` shell, a backup): the request goes on, decided by
the in-memory mirror, and the units it took and ended, and a 429 pause, wait here until a
transaction gets through and writes them, so that other processes count them from then on.
Filled on the event loops, written in the store's worker thread: guarded by a lock. Each change
also goes to the process's crash journal (``_journal``), so that a process dying before the
store is free does not take them with it.
"""

from __future__ import annotations

import math
import threading

from ._journal import Journal, Row

__all__ = ["Pending", "Snapshot"]

Snapshot = tuple[dict[str, Row], float]
"""The units to write, by token, and the pause deadline (``-inf``: none)."""


class Pending:
    """Units and a pause of one scope the store has not been told about yet.

    Args:
        journal: Where every change is also written, on disk (None: memory only).
        scope: The scope the units are of (named in the journal).
    """

    __slots__ = ("_journal", "_lock", "_pause", "_scope", "_units")

    def __init__(self, journal: Journal | None = None, scope: str = "") -> None:
        self._journal = journal
        self._scope = scope
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
            if self._journal is not None:
                self._journal.unit(self._scope, token, (at, live))

    def drop(self, token: str) -> None:
        """Note that a unit never left: its row, if the store has one, goes."""
        with self._lock:
            self._units[token] = None
            if self._journal is not None:
                self._journal.unit(self._scope, token, None)

    def hold(self, until: float) -> None:
        """Note a pause until ``until``."""
        with self._lock:
            self._pause = max(self._pause, until)
            if self._journal is not None:
                self._journal.pause(self._scope, self._pause)

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
            if self._journal is not None:
                self._journal.settle(self._scope, dict(self._units), self._pause)
