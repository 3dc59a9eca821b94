"""The persistent key budget: one SQLite file shared by restarts and processes of one machine.

Why SQLite (stdlib ``sqlite3``): a transaction makes "count the units in every window, then
take one" atomic across processes (``BEGIN IMMEDIATE`` takes the write lock first), WAL mode
lets readers run beside the writer, and a busy timeout queues contending processes instead of
failing them. A JSON file would need hand-written locking and atomic replaces for the same.

One database file holds every scope (rows keyed by the scope, a hash of key and origin, never
the key), so repeated sandbox runs on new ports do not litter the cache folder with files;
rows expire once no window can count them any more. Times are wall-clock Unix seconds (the
monotonic clock does not survive a restart). A unit in flight is stored with ``live = 1`` and
``at`` = its lease end: it counts as "now" until then, and if its process died, as a unit done
at the lease end (a crash costs one unit, never a stuck budget).

A store that cannot be opened (corrupt, unwritable, a newer format) logs one WARNING and the
budget is kept in memory; a store that fails later logs one WARNING and the budget goes on from
this process's own record (the :class:`~lacale_async._ledger.MemoryLedger` mirror). The
warnings say what that costs. Nothing here raises to the caller.
"""

from __future__ import annotations

import logging
import math
import os
import secrets
import sqlite3
import threading
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path

from ._gate import ExitSignal
from ._ledger import Grant, MemoryLedger, Refusal, Span, Usage, assess, measure
from ._mirrored import MirroredLedger
from ._sqlite import describe_failure, open_database
from ._userdir import user_cache_dir

__all__ = ["SqliteLedger", "StoreFile", "auto_store_path", "open_ledger"]

logger = logging.getLogger("lacale_async")

_VERSION = 1
# How often a waiter re-reads the store when units in flight elsewhere may end unseen.
_POLL = 1.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS units (
    scope TEXT NOT NULL, token TEXT NOT NULL, at REAL NOT NULL, live INTEGER NOT NULL,
    expires REAL NOT NULL, PRIMARY KEY (scope, token)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS units_by_scope ON units (scope, at);
CREATE INDEX IF NOT EXISTS units_by_expiry ON units (expires);
CREATE TABLE IF NOT EXISTS pauses (scope TEXT PRIMARY KEY, until REAL NOT NULL) WITHOUT ROWID;
"""
_STORE_ERRORS = (sqlite3.Error, OSError)


def auto_store_path() -> Path:
    """Return where ``quota_store="auto"`` keeps the budget: the user's cache folder."""
    return user_cache_dir() / "quota.sqlite3"


class StoreFile:
    """One open database file, shared by every scope and thread of the process."""

    __slots__ = ("__weakref__", "conn", "failed", "lock", "path")

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.failed = False
        # Shared by the process's threads, each transaction under ``lock``.
        conn = open_database(
            path,
            schema=_SCHEMA,
            version=_VERSION,
            kind="quota store",
            make_parents=True,
            check_same_thread=False,
        )
        weakref.finalize(self, conn.close)
        self.conn = conn

    def fail(self, exc: BaseException, doing: str) -> None:
        """Stop using the file for the rest of the process, with one WARNING."""
        if self.failed:
            return
        self.failed = True
        logger.warning(
            "the quota store %s failed while %s (%s); the key-wide budget goes on in memory "
            "for this process, from what it has counted itself: requests other processes send "
            "from now on are not counted, so together they may exceed the budget and the "
            "tracker may answer 429. Repair or delete the file to share the budget again",
            self.path,
            doing,
            describe_failure(exc),
        )


class SqliteLedger(MirroredLedger):
    """The units of one scope in a :class:`StoreFile`, mirrored in memory.

    Args:
        file: The open database.
        scope: The opaque key-and-origin scope.
        wall: The wall-clock reader.
        mirror: Records this process's units, and takes over if the file fails.
    """

    errors = _STORE_ERRORS

    def __init__(
        self, file: StoreFile, scope: str, wall: Callable[[], float], mirror: MemoryLedger
    ) -> None:
        super().__init__(mirror)
        self._file = file
        self._scope = scope
        self._wall = wall
        self._exits = ExitSignal()

    @property
    def where(self) -> str:
        """The database file's path (the mirror's name once the file failed)."""
        return self._mirror.where if self._file.failed else str(self._file.path)

    def _usable(self) -> bool:
        return not self._file.failed

    def _failed(self, exc: BaseException, doing: str, *, ending: bool = False) -> None:
        self._file.fail(exc, doing)

    def _rows(self, horizon: float, now: float) -> tuple[int, list[float], float]:
        """Return units in flight, exit stamps (oldest first) and the pause deadline."""
        conn = self._file.conn
        rows = conn.execute(
            "SELECT at, live FROM units WHERE scope = ? AND (live = 1 OR at > ?)",
            (self._scope, now - horizon),
        ).fetchall()
        in_flight = sum(1 for at, live in rows if live and at > now)
        # A live unit past its lease counts as done at the lease end (its process vanished).
        done = sorted(at for at, live in rows if not (live and at > now))
        pause = conn.execute("SELECT until FROM pauses WHERE scope = ?", (self._scope,)).fetchone()
        return in_flight, done, (pause[0] if pause else -math.inf)

    def history(self) -> tuple[list[float], float]:
        """Return the scope's exit stamps and pause (to seed the mirror at open)."""
        with self._file.lock:
            _, done, pause = self._rows(2 * 86_400.0, self._wall())
            return done, pause

    def _take_locked(self, spans: Sequence[Span], lease: float) -> Grant | Refusal:
        conn = self._file.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            now = self._wall()
            horizon = max(span for _, _, span in spans)
            conn.execute("DELETE FROM units WHERE expires < ?", (now,))
            in_flight, done, pause = self._rows(horizon, now)
            refusal = assess(spans, in_flight, done, pause, now)
            if refusal is None:
                token = secrets.token_hex(8)
                conn.execute(
                    "INSERT INTO units VALUES (?, ?, ?, 1, ?)",
                    (self._scope, token, now + lease, now + lease + horizon),
                )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        if refusal is None:
            return Grant(token, now)
        if refusal.wait is None:
            return Refusal(None, refusal.binding, refusal.used, now, self._exits.arm(), _POLL)
        return refusal

    async def _take(self, spans: Sequence[Span], lease: float) -> Grant | Refusal:
        with self._file.lock:
            return self._take_locked(spans, lease)

    async def _end(self, grant: Grant, counted: bool) -> None:
        with self._file.lock:
            if counted:
                now = self._wall()
                # expires - at of a live row is the horizon it was written with.
                self._file.conn.execute(
                    "UPDATE units SET at = ?, live = 0, expires = ? + (expires - at) "
                    "WHERE scope = ? AND token = ?",
                    (now, now, self._scope, grant.token),
                )
            else:
                self._file.conn.execute(
                    "DELETE FROM units WHERE scope = ? AND token = ?", (self._scope, grant.token)
                )
            self._exits.fire()

    async def _hold(self, seconds: float) -> bool:
        with self._file.lock:
            conn = self._file.conn
            now = self._wall()
            row = conn.execute(
                "SELECT until FROM pauses WHERE scope = ?", (self._scope,)
            ).fetchone()
            conn.execute(
                "INSERT INTO pauses VALUES (?, ?) ON CONFLICT (scope) DO UPDATE "
                "SET until = max(until, excluded.until)",
                (self._scope, now + seconds),
            )
            conn.execute("DELETE FROM pauses WHERE until < ?", (now,))
            return row is not None and row[0] > now

    async def _read(self, spans: Sequence[Span]) -> Usage:
        with self._file.lock:
            now = self._wall()
            in_flight, done, pause = self._rows(max(s for _, _, s in spans), now)
        return measure(spans, in_flight, done, pause, now)

    def __repr__(self) -> str:
        return f"SqliteLedger({str(self._file.path)!r})"


_FILES: weakref.WeakValueDictionary[str, StoreFile] = weakref.WeakValueDictionary()
_FILES_LOCK = threading.Lock()
_WARNED: set[str] = set()


def _open_file(path: Path) -> StoreFile | None:
    key = os.fspath(path)
    with _FILES_LOCK:
        file = _FILES.get(key)
        if file is not None and not file.failed:
            return file
        try:
            file = StoreFile(path)
        except _STORE_ERRORS as exc:
            if key not in _WARNED:
                _WARNED.add(key)
                logger.warning(
                    "cannot use the quota store %s (%s); the key-wide budget is kept in memory "
                    "for this process only: requests this key made before (in earlier runs or "
                    "other processes) are NOT counted, so the tracker may answer 429 until its "
                    "own window frees up. Fix the file or its folder (permissions, disk), move "
                    "it away, or pass quota_store=None to keep the budget in memory on purpose",
                    path,
                    describe_failure(exc),
                )
            return None
        _FILES[key] = file
        return file


def open_ledger(path: Path, scope: str, wall: Callable[[], float]) -> SqliteLedger | MemoryLedger:
    """Return the ledger of ``scope`` in the store at ``path``, or a memory one if it fails.

    Args:
        path: The database file (created with its folder when missing).
        scope: The opaque key-and-origin scope.
        wall: The wall-clock reader.

    Returns:
        A :class:`SqliteLedger` seeded mirror included, or a :class:`MemoryLedger` after one
        WARNING when the file cannot be used.
    """
    file = _open_file(path)
    mirror = MemoryLedger(wall, where=f"memory (the quota store {path} failed)")
    if file is None:
        return MemoryLedger(wall, where=f"memory (the quota store {path} could not be opened)")
    ledger = SqliteLedger(file, scope, wall, mirror)
    try:
        done, pause = ledger.history()
    except _STORE_ERRORS as exc:
        file.fail(exc, "reading the key budget")
    else:
        mirror.seed(done, pause)
    return ledger
