"""``StoreFile``: the quota store's open database and the one worker thread that uses it.

Every transaction runs in a worker thread, never on an event loop: another process holding
the write lock (a ``sqlite3`` shell, a backup) makes a transaction wait up to the busy timeout,
and on the loop thread that froze every task of the application for as long.

Why one dedicated thread per file (a single-thread ``ThreadPoolExecutor`` and
``loop.run_in_executor``) rather than ``asyncio.to_thread`` or anyio's thread pool: the file is
shared by every client of the process, whatever their event loop or thread, and those pools
and anyio's limiters belong to one loop. One thread per file serialises the transactions (the
connection is used by one thread at a time, as sqlite3 wants), keeps them in submission order
(an undo submitted after a take runs after it), and costs one thread hop per operation. The
thread lives while a client uses the file: the last one to close drains it and joins it,
after a last try at writing what its ledgers noted while another program held the file locked.
What that try cannot write is in the process's crash journal (``_journal``): the next process
that opens the store counts it.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol, TypeVar

from ._journal import Journal
from ._sqlite import describe_failure, is_busy, open_database

__all__ = ["STORE_ERRORS", "StoreDamaged", "StoreFile", "is_busy"]

logger = logging.getLogger("lacale_async")

T = TypeVar("T")

_APPLICATION_ID = 0x4C435154  # "LCQT": a lacale quota store, not any SQLite file
_VERSION = 1
# Additive changes only (a new table): a file written by this version stays readable by the
# previous one, which would refuse a higher user_version and lose the shared budget.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS units (
    scope TEXT NOT NULL, token TEXT NOT NULL, at REAL NOT NULL, live INTEGER NOT NULL,
    expires REAL NOT NULL, PRIMARY KEY (scope, token)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS units_by_scope ON units (scope, at);
CREATE INDEX IF NOT EXISTS units_by_expiry ON units (expires);
CREATE TABLE IF NOT EXISTS pauses (scope TEXT PRIMARY KEY, until REAL NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS horizons (
    scope TEXT PRIMARY KEY, horizon REAL NOT NULL, until REAL NOT NULL
) WITHOUT ROWID;
"""


class Unwritten(Protocol):
    """A ledger of the file holding what another program's lock kept it from writing."""

    def unwritten(self) -> tuple[int, bool]:
        """Return the units not written yet, and whether a pause is among them."""
        ...

    def flush_job(self, conn: sqlite3.Connection) -> None:
        """Write what is pending, waiting the busy timeout at most (in the worker)."""
        ...


class StoreDamaged(sqlite3.DatabaseError):
    """A row the SDK never writes (a text, blob or non-finite time): the file was damaged."""


# ValueError and TypeError: what the OS layer raises for a path it cannot take (a NUL byte, a
# lone surrogate), and a backstop for a damaged value the row checks did not foresee.
STORE_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error, OSError, ValueError, TypeError)


class StoreFile:
    """One open database file, shared by every scope, thread and event loop of the process.

    Args:
        path: The database file (created with its folder when missing).

    Raises:
        sqlite3.Error, OSError, ValueError: The file cannot be opened or is not ours.
    """

    __slots__ = (
        "__weakref__",
        "_ledgers",
        "_life",
        "_pool",
        "_users",
        "busy_warned",
        "conn",
        "failed",
        "journal",
        "lock",
        "path",
    )

    def __init__(self, path: Path) -> None:
        self.path = path
        # Held by each transaction: two worker generations (the last client closing while a
        # new one opens) never use the connection at once.
        self.lock = threading.Lock()
        self.failed = False
        self.busy_warned = False
        # Shared by the file's ledgers: one journal per process and store.
        self.journal = Journal(path)
        self._life = threading.Lock()
        # One slot (a list, so the finalizer below sees the worker of the moment).
        self._pool: list[ThreadPoolExecutor | None] = [None]
        self._users: weakref.WeakSet[object] = weakref.WeakSet()
        self._ledgers: weakref.WeakSet[Unwritten] = weakref.WeakSet()
        conn = open_database(
            path,
            schema=_SCHEMA,
            version=_VERSION,
            # Its own mark, so that a mistyped path never converts another program's
            # database; files of earlier versions (unmarked, our tables only) are adopted.
            application_id=_APPLICATION_ID,
            adopt=True,
            kind="quota store",
            make_parents=True,
            check_same_thread=False,
        )
        # A straggler (a request ending after its client closed) may start a worker again: it
        # ends with the file. Queued jobs hold the file, so none runs when this is called.
        weakref.finalize(self, _release, self._pool, conn)
        self.conn = conn

    def attach(self, user: object) -> None:
        """Count ``user`` (a client's key budget) as using the file until :meth:`detach`."""
        with self._life:
            self._users.add(user)

    def track(self, ledger: Unwritten) -> None:
        """Have the last client's :meth:`detach` write what ``ledger`` could not yet."""
        with self._life:
            self._ledgers.add(ledger)

    async def detach(self, user: object) -> None:
        """Forget ``user``; the last one out writes what is pending, then joins the worker.

        Units noted while another program held the file locked are in this process and its
        crash journal only: the client closing is the last chance to write them itself (a
        process that exits, or a CLI run, makes no later request), so this waits the busy
        timeout at most, and warns of what is still unrecorded after it (the journal keeps
        it for the next process that opens the store).
        """
        with self._life:
            self._users.discard(user)
            if self._users:
                return
            # The final write runs last in the worker, after the jobs queued before it (an
            # end queued by the last request may find the lock and note its unit then).
            executor = self._pool[0]
            if executor is None and any(any(w.unwritten()) for w in self._ledgers):
                executor = self._worker()
            self._pool[0] = None
        if executor is not None:
            await _drain(executor, self._flush)

    async def aclose(self) -> None:
        """Stop the worker thread now, after the work already submitted (tests, shutdown)."""
        with self._life:
            executor, self._pool[0] = self._pool[0], None
        if executor is not None:
            await _drain(executor, _nothing)

    def _worker(self) -> ThreadPoolExecutor:
        executor = self._pool[0]
        if executor is None:
            executor = ThreadPoolExecutor(1, thread_name_prefix="lacale-quota-store")
            self._pool[0] = executor
        return executor

    async def run(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run one transaction in the worker thread and return its result.

        The transaction goes on if the caller is cancelled meanwhile (it is shielded): what it
        writes is consistent, and the caller undoes a take with :meth:`submit` if it must.
        """
        loop = asyncio.get_running_loop()
        with self._life:  # submitted before a closing client can shut this worker down
            future = loop.run_in_executor(self._worker(), self._locked, job)
        return await asyncio.shield(future)

    def submit(self, job: Callable[[sqlite3.Connection], object], doing: str) -> None:
        """Queue a transaction nobody waits for; it runs after every one submitted before.

        A failure is handled here: damage fails the file (one WARNING); a lock is left to the
        job, which notes what it could not write for the next transaction.
        """
        with self._life:
            self._worker().submit(self._quietly, job, doing)

    def _flush(self) -> None:
        """Write every ledger's pending units, once more (the worker, last client closing)."""
        if self.failed:
            return  # the ledgers went on in memory: nothing was noted for the file since
        units, paused, failure = 0, False, None
        with self.lock:
            for ledger in list(self._ledgers):
                exc = _flushed(ledger, self.conn)
                if exc is not None:
                    failure = exc
                    more, pause = ledger.unwritten()
                    units, paused = units + more, paused or pause
        if failure is not None:
            self._unrecorded(failure, units, paused)

    def _unrecorded(self, exc: BaseException, units: int, paused: bool) -> None:
        journal = self.journal.path
        logger.warning(
            "the quota store %s could still not be written as its last client closed (%s): "
            "%d unit(s) of the key-wide budget%s spent while another program held it locked "
            "are NOT recorded in it yet. %s",
            self.path,
            describe_failure(exc),
            units,
            " (and a 429 pause)" if paused else "",
            (
                f"They are kept in its crash journal {journal}, and counted by the next "
                "process that opens the store once it is free"
                if journal is not None
                else "No crash journal holds them (it could not be written), so later runs "
                "and other processes do not count them and the tracker may answer 429. Close "
                "the program holding the file (a sqlite3 shell, a backup) before running again"
            ),
        )

    def _locked(self, job: Callable[[sqlite3.Connection], T]) -> T:
        with self.lock:
            return job(self.conn)

    def _quietly(self, job: Callable[[sqlite3.Connection], object], doing: str) -> None:
        try:
            self._locked(job)
        except STORE_ERRORS as exc:
            if not is_busy(exc):
                self.fail(exc, doing)

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

    def busy(self, exc: BaseException, doing: str, retry: float) -> None:
        """Warn once that another connection holds the file locked (it is tried again)."""
        if self.busy_warned:
            return
        self.busy_warned = True
        logger.warning(
            "the quota store %s is locked by another program (%s) while %s; this request's "
            "key-wide budget was decided from what this process has counted itself, and the "
            "store is tried again in %.0f s (what this process spent meanwhile is written to "
            "it then). Requests other processes send meanwhile are not counted here",
            self.path,
            describe_failure(exc),
            doing,
            retry,
        )


async def _drain(executor: ThreadPoolExecutor, last: Callable[[], None]) -> None:
    # The worker runs in order: once ``last`` (a no-op, or the final write) submitted now has
    # run, nothing is left, and the thread's join at shutdown returns at once instead of
    # blocking the loop.
    loop = asyncio.get_running_loop()
    try:
        await asyncio.shield(loop.run_in_executor(executor, last))
    except BaseException:
        executor.shutdown(wait=False)  # cancelled: the thread still ends after its queue
        raise
    executor.shutdown(wait=True)


def _flushed(ledger: Unwritten, conn: sqlite3.Connection) -> BaseException | None:
    """Write ``ledger``'s pending units; return what stopped it (None: all written)."""
    try:
        ledger.flush_job(conn)
    except STORE_ERRORS as exc:
        return exc
    return None


def _release(pool: list[ThreadPoolExecutor | None], conn: sqlite3.Connection) -> None:
    executor = pool[0]
    if executor is not None:
        executor.shutdown(wait=False)
    conn.close()


def _nothing() -> None:
    """A no-op job: its end means every job before it has ended."""
