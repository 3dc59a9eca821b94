"""The persistent key budget: one SQLite file shared by restarts and processes of one machine.

Why SQLite (stdlib ``sqlite3``): a transaction makes "count the units in every window, then
take one" atomic across processes (``BEGIN IMMEDIATE`` takes the write lock first), WAL mode
lets readers run beside the writer, and a busy timeout queues contending processes instead of
failing them. A JSON file would need hand-written locking and atomic replaces for the same.

One database file holds every scope (rows keyed by the scope, a hash of key and origin, never
the key), so repeated sandbox runs on new ports do not litter the cache folder with files;
rows expire once no window of any user of the scope can count them any more. Times are
wall-clock Unix seconds (the monotonic clock does not survive a restart). A unit in flight is
stored with ``live = 1`` and ``at`` = its lease end: it counts as "now" until then, and if its
process died, as a unit done at the lease end (a crash costs one unit, never a stuck budget).

Every transaction runs in the file's worker thread (``_store_file``), never on the event loop.
A store that cannot be opened for writing (unwritable, a full disk, a failed integrity check, a
newer format) is read instead (``_store_readonly``): one WARNING, and the budget is kept in
memory from the units it records; one that cannot be read either (or no quota store: another
program's file, a path the OS refuses) logs one WARNING and the budget starts full in memory,
what was spent before unknown. A store that fails later (damage, a damaged row)
logs one WARNING and the budget goes on from this process's own record (the
:class:`~lacale_async._ledger.MemoryLedger` mirror). A store locked by another program is not a
failure: that request is decided by the mirror, what this process does meanwhile is written to
the store once it is free again (and to its crash journal, ``_journal``, until then: a
process that dies first leaves it to the next one, which replays it before its first take or
read), and the store is tried again a few seconds later. Nothing here raises to the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import os
import secrets
import sqlite3
import threading
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from ._gate import ExitSignal
from ._ledger import Grant, MemoryLedger, Refusal, Span, Usage, assess, measure
from ._mirrored import MirroredLedger
from ._pending import Pending, Snapshot
from ._sqlite import describe_failure, immediate
from ._store_file import STORE_ERRORS, StoreFile, is_busy
from ._store_readonly import ReadOnlyLedger, readable, warn_unusable
from ._store_rows import (
    history,
    read_rows,
    record_horizon,
    replay_journals,
    stored_keep,
    write_pending,
)
from ._userdir import user_cache_dir

__all__ = ["ReadOnlyLedger", "SqliteLedger", "StoreFile", "auto_store_path", "open_ledger"]


T = TypeVar("T")
Hold = Callable[[], contextlib.AbstractContextManager[None]]

# How often a waiter re-reads the store when units in flight elsewhere may end unseen.
_POLL = 1.0
# Seconds (of the ledger's wall clock) a locked store is left alone before it is tried again:
# each try may wait the busy timeout, so trying on every request would slow them all down.
_BUSY_RETRY = 5.0


def auto_store_path() -> Path:
    """Return where ``quota_store="auto"`` keeps the budget: the user's cache folder."""
    return user_cache_dir() / "quota.sqlite3"


class SqliteLedger(MirroredLedger):
    """The units of one scope in a :class:`StoreFile`, mirrored in memory.

    Methods named ``_..._job`` run in the file's worker thread, one at a time.

    Args:
        file: The open database.
        scope: The opaque key-and-origin scope.
        wall: The wall-clock reader.
        mirror: Records this process's units, and takes over if the file fails.
        hold: Keeps the clock still while a transaction is awaited (a FakeClock must not
            jump meanwhile: the loop looks idle, and the worker reads the clock).
    """

    errors = STORE_ERRORS

    def __init__(
        self,
        file: StoreFile,
        scope: str,
        wall: Callable[[], float],
        mirror: MemoryLedger,
        hold: Hold = contextlib.nullcontext,
    ) -> None:
        super().__init__(mirror)
        self._hold_clock = hold
        self._file = file
        self._scope = scope
        self._wall = wall
        self._exits = ExitSignal()
        self._pending = Pending(file.journal, scope)
        self._seeded = False
        self._retry_at = -math.inf
        file.track(self)

    @property
    def where(self) -> str:
        """The database file's path (the mirror's name once the file failed)."""
        return self._mirror.where if self._file.failed else str(self._file.path)

    def attach(self, user: object) -> None:
        """Count ``user`` as using the file (its worker thread lives while one does)."""
        self._file.attach(user)

    async def detach(self, user: object) -> None:
        """Forget ``user``; the file's last user writes what is pending and stops the worker."""
        with self._hold_clock():  # the final write reads the clock in the worker
            await self._file.detach(user)

    def idle(self) -> bool:
        """Tell whether forgetting this ledger loses nothing: the file holds all it counted.

        Not so once the file failed (the mirror is the only record of what was spent since)
        or while another program's lock keeps units out of it: the ledger is then kept for
        the process's next client, like a memory ledger, until nothing it holds binds.
        """
        if self._file.failed:
            return self._mirror.idle()
        units, pause = self.unwritten()
        return not units and not pause

    def unwritten(self) -> tuple[int, bool]:
        """Return the units another program's lock kept from the file, and if a pause is."""
        return self._pending.unwritten()

    def flush_job(self, conn: sqlite3.Connection) -> None:
        """Write what is pending now, whatever the retry delay (the file's last client left)."""
        self._sync_job(conn)

    async def aclose(self) -> None:
        """Stop the file's worker thread after the work submitted (a ledger without users)."""
        await self._file.aclose()

    def _usable(self) -> bool:
        return not self._file.failed and self._wall() >= self._retry_at

    def _failed(self, exc: BaseException, doing: str, *, ending: bool = False) -> None:
        if is_busy(exc):
            self._retry_at = self._wall() + _BUSY_RETRY
            self._file.busy(exc, doing, _BUSY_RETRY)
        else:
            self._file.fail(exc, doing)

    def _admitted(self, grant: Grant, lease: float) -> Grant:
        if self._file.failed:
            return grant
        # Decided by the mirror while the file is locked: written to it once it is free.
        token = secrets.token_hex(8)
        self._pending.unit(token, grant.at + lease, live=True)
        return Grant(token, grant.at)

    def _unrecorded(self, grant: Grant, counted: bool) -> None:
        if self._file.failed:
            return
        if counted:
            self._pending.unit(grant.token, self._wall(), live=False)
        else:
            self._pending.drop(grant.token)

    def _unpaused(self, until: float) -> None:
        if not self._file.failed:
            self._pending.hold(until)

    def _seed_job(self, conn: sqlite3.Connection, now: float, *, reading: bool = False) -> None:
        # Before every take and read: what processes that died under a lock journaled counts.
        try:
            replay_journals(conn, self._file.path, now)
        except sqlite3.OperationalError as exc:
            if not (reading and is_busy(exc)):
                raise  # a take would wait on the lock anyway; a read still can, in WAL mode
        # Once, in the worker (never a read on the loop): the scope's sound history, so that
        # if the file fails the budget goes on from it rather than from a full budget.
        if not self._seeded:
            self._mirror.seed(*history(conn, self._scope, now))
            self._seeded = True

    def _commit_job(self, conn: sqlite3.Connection, body: Callable[[], T]) -> T:
        """Run ``body`` in one write transaction, with what is pending written around it."""
        with immediate(conn):
            # Before the body, so that a take counts the units taken while the file was
            # locked; after it too, for an undo noted meanwhile (a take cancelled while it ran).
            first = self._write_pending(conn)
            result = body()
            last = self._write_pending(conn)
        for written in (first, last):
            if written is not None:
                self._pending.settle(written)
        return result

    def _write_pending(self, conn: sqlite3.Connection) -> Snapshot | None:
        if not self._pending:
            return None
        keep = stored_keep(conn, self._scope, self._wall())
        return write_pending(conn, self._scope, self._pending, keep)

    def _take_job(
        self, spans: Sequence[Span], lease: float, token: str, conn: sqlite3.Connection
    ) -> Grant | Refusal:
        def body() -> Grant | Refusal:
            now = self._wall()
            horizon = max(span for _, _, span in spans)
            keep = record_horizon(conn, self._scope, horizon, now)
            if conn.execute("DELETE FROM units WHERE expires < ?", (now,)).rowcount:
                conn.execute("DELETE FROM horizons WHERE until < ?", (now,))
            in_flight, done, pause = read_rows(conn, self._scope, now - horizon, now)
            refusal = assess(spans, in_flight, done, pause, now)
            if refusal is not None:
                return refusal
            conn.execute(
                "INSERT INTO units VALUES (?, ?, ?, 1, ?)",
                (self._scope, token, now + lease, now + lease + keep),
            )
            return Grant(token, now)

        self._seed_job(conn, self._wall())
        return self._commit_job(conn, body)

    async def _run(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``job`` in the store's worker, the fake clock (if any) held still meanwhile."""
        with self._hold_clock():
            return await self._file.run(job)

    def _sync_job(self, conn: sqlite3.Connection) -> None:
        """Write what is pending (a cancelled take's undo among it)."""
        if self._pending:
            self._commit_job(conn, lambda: None)

    async def _take(self, spans: Sequence[Span], lease: float) -> Grant | Refusal:
        token = secrets.token_hex(8)
        try:
            result = await self._run(functools.partial(self._take_job, spans, lease, token))
        except asyncio.CancelledError:
            # The transaction goes on in the worker: undo its unit (if it took one) after it.
            self._pending.drop(token)
            self._file.submit(self._sync_job, "undoing a cancelled request's unit")
            raise
        if isinstance(result, Grant) or result.wait is not None:
            return result
        return Refusal(None, result.binding, result.used, result.now, self._exits.arm(), _POLL)

    def _end_job(self, token: str, counted: bool, now: float, conn: sqlite3.Connection) -> None:

        def body() -> None:
            if counted:
                # expires - at of a live row is how long its scope's rows are kept.
                conn.execute(
                    "UPDATE units SET at = ?, live = 0, expires = ? + (expires - at) "
                    "WHERE scope = ? AND token = ?",
                    (now, now, self._scope, token),
                )
            else:
                conn.execute(
                    "DELETE FROM units WHERE scope = ? AND token = ?", (self._scope, token)
                )

        try:
            self._commit_job(conn, body)
        except sqlite3.Error as exc:
            if is_busy(exc):  # noted here: the caller may have been cancelled meanwhile
                self._unrecorded(Grant(token, now), counted)
            raise

    async def _end(self, grant: Grant, counted: bool) -> None:
        # Queued, not awaited: a request pays one thread hop (its take), not two. The worker
        # runs in order, so any later take or read of this process sees this end.
        job = functools.partial(self._end_job, grant.token, counted, self._wall())
        self._file.submit(job, "recording the end of a request")
        self._exits.fire()

    def _hold_job(self, seconds: float, conn: sqlite3.Connection) -> bool:
        now = self._wall()

        def body() -> bool:
            row = conn.execute(
                "SELECT until FROM pauses WHERE scope = ? AND typeof(until) = 'real'",
                (self._scope,),
            ).fetchone()
            conn.execute(
                "INSERT INTO pauses VALUES (?, ?) ON CONFLICT (scope) DO UPDATE "
                "SET until = max(until, excluded.until)",
                (self._scope, now + seconds),
            )
            conn.execute("DELETE FROM pauses WHERE until < ?", (now,))
            return row is not None and row[0] > now

        try:
            return self._commit_job(conn, body)
        except sqlite3.Error as exc:
            if is_busy(exc):
                self._unpaused(now + seconds)
            raise

    async def _hold(self, seconds: float) -> bool:
        return await self._run(functools.partial(self._hold_job, seconds))

    def _read_job(
        self, horizon: float, conn: sqlite3.Connection
    ) -> tuple[tuple[int, list[float], float], float]:
        now = self._wall()
        self._seed_job(conn, now, reading=True)
        return read_rows(conn, self._scope, now - horizon, now), now

    async def _read(self, spans: Sequence[Span]) -> Usage:
        horizon = max(s for _, _, s in spans)
        (in_flight, done, pause), now = await self._run(functools.partial(self._read_job, horizon))
        return measure(spans, in_flight, done, pause, now)

    def __repr__(self) -> str:
        return f"SqliteLedger({str(self._file.path)!r})"


_FILES: weakref.WeakValueDictionary[str, StoreFile] = weakref.WeakValueDictionary()
_FILES_LOCK = threading.Lock()


def _open_file(path: Path) -> StoreFile | BaseException:
    """Return the open store at ``path`` (one per process), or why it cannot be opened."""
    key = os.fspath(path)
    with _FILES_LOCK:
        file = _FILES.get(key)
        if file is not None and not file.failed:
            return file
        try:
            file = StoreFile(path)
        except STORE_ERRORS as exc:
            return exc
        _FILES[key] = file
        return file


def open_ledger(
    path: Path,
    scope: str,
    wall: Callable[[], float],
    hold: Hold = contextlib.nullcontext,
) -> SqliteLedger | MemoryLedger:
    """Return the ledger of ``scope`` in the store at ``path``, or a memory one if it fails.

    Opening reads nothing from the rows: the mirror is seeded by the first transaction, in
    the worker thread (a damaged row is found there, and warned about as a failure). A file
    that exists but cannot be opened for writing is read (read-only, at first use, off the
    loop) and the memory ledger goes on from its units, rather than from a full budget.

    Args:
        path: The database file (created with its folder when missing).
        scope: The opaque key-and-origin scope.
        wall: The wall-clock reader.
        hold: Keeps the client's clock still while a transaction is awaited (a FakeClock).

    Returns:
        A :class:`SqliteLedger`; a :class:`ReadOnlyLedger` (memory, seeded from the file)
        when the file can only be read; or a :class:`MemoryLedger` after one WARNING when
        nothing can be read from it.
    """
    file = _open_file(path)
    if isinstance(file, StoreFile):
        mirror = MemoryLedger(wall, where=f"memory (the quota store {path} failed)")
        return SqliteLedger(file, scope, wall, mirror, hold)
    if readable(path, file):
        return ReadOnlyLedger(path, scope, wall, file, hold)
    warn_unusable(path, describe_failure(file))
    return MemoryLedger(wall, where=f"memory (the quota store {path} could not be opened)")
