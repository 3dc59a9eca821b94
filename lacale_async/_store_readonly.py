"""A quota store that cannot be opened for writing: the budget goes on from what it records.

Why not a fresh budget: a read-only folder or mount, a full disk or a failed integrity check
stop the store from being written, but the units it records are still what this key spent
(in earlier runs, in other processes). Starting from a full budget would let a restarted bot
spend a second day's budget, the very throttling the budget exists to prevent. So the store
is opened read-only (``immutable=1`` when no write-ahead log holds anything, else ``mode=ro``),
its sound rows are read as the normal history read does (damaged ones skipped), and
the in-memory ledger starts from them. Nothing is ever written to such a file.

Only when nothing at all can be read from it (or the path is no quota store: missing, a
folder, another program's database) does the budget start full, with a WARNING saying plainly
that what was spent before is unknown.

The read runs once, in a thread of its own, at the ledger's first use: never on an event loop
(a file locked by another program may make it wait the busy timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from ._ledger import Grant, MemoryLedger, Refusal, Span, Usage
from ._quota import utc
from ._sqlite import NotOurs, describe_failure, open_readonly
from ._store_file import STORE_ERRORS
from ._store_rows import recorded
from ._wording import Names, Worded

__all__ = ["ReadOnlyLedger", "readable", "warn_unusable"]

logger = logging.getLogger("lacale_async")

Hold = Callable[[], contextlib.AbstractContextManager[None]]

# What was warned about, once per process: a path (unusable), or a path and scope (read).
_WARNED: set[str | tuple[str, str]] = set()
_WARNED_LOCK = threading.Lock()


def _first(key: str | tuple[str, str]) -> bool:
    with _WARNED_LOCK:
        if key in _WARNED:
            return False
        _WARNED.add(key)
        return True


def readable(path: Path, failure: BaseException) -> bool:
    """Tell whether a store that failed to open with ``failure`` may still be read for units."""
    if isinstance(failure, NotOurs):
        return False  # another program's file: its rows are no units of ours
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def warn_unusable(path: Path, reason: str) -> None:
    """Warn (once per path) that the budget starts full, what was spent before being unknown."""
    key = str(path)
    if not _first(key):
        return
    # %r: a path the OS refused may hold a NUL or a lone surrogate, which a log handler
    # writing UTF-8 could not write.
    logger.warning(
        "cannot use the quota store %r (%s); what this key spent before (in earlier runs or "
        "other processes) is unknown and NOT counted: the key-wide budget is kept in memory "
        "for this process only and starts full, so the tracker may answer 429 until its own "
        "window frees up. Fix the file or its folder (permissions, disk), move it away, %s",
        key,
        reason,
        # Worded: the command's log handler names the settings its own user can set.
        Worded(_other_store),
    )


def _other_store(names: Names) -> str:
    return (
        f"point {names.called('quota_store')} at another file, or "
        f"{names.advise('quota_store', None)} to keep the budget in memory on purpose"
    )


def _read_back(path: Path, scope: str) -> tuple[list[float], float]:
    """Read the scope's units from ``path`` without writing anything.

    Raises:
        sqlite3.Error, OSError, ValueError: Nothing could be read.
    """
    if not _has_wal(path):
        # Nothing in a write-ahead log: the main file is all there is, and an immutable
        # open reads it without creating -wal/-shm files beside it (a read-only folder
        # forbids them anyway).
        return _read(open_readonly(path, immutable=True), scope)
    try:
        return _read(open_readonly(path), scope)
    except STORE_ERRORS:
        # Its -shm cannot be used (a read-only folder): then what only the -wal holds is
        # not seen, but the main file still is.
        return _read(open_readonly(path, immutable=True), scope)


def _has_wal(path: Path) -> bool:
    try:
        return Path(f"{path}-wal").stat().st_size > 0
    except OSError:
        return False


def _read(conn: sqlite3.Connection, scope: str) -> tuple[list[float], float]:
    try:
        return recorded(conn, scope)
    finally:
        conn.close()


class ReadOnlyLedger(MemoryLedger):
    """The key budget in this process's memory, seeded from a store that can only be read.

    Args:
        path: The store file (never written).
        scope: The opaque key-and-origin scope.
        wall: The wall-clock reader.
        failure: Why the file could not be opened for writing (for the WARNING).
        hold: Keeps the client's clock still while the read is awaited (a FakeClock).
    """

    __slots__ = ("_failure", "_hold_clock", "_path", "_scope", "_seed_lock", "_seeding")

    def __init__(
        self,
        path: Path,
        scope: str,
        wall: Callable[[], float],
        failure: BaseException,
        hold: Hold = contextlib.nullcontext,
    ) -> None:
        super().__init__(wall, where=f"memory (the quota store {path} could only be read)")
        self._path = path
        self._scope = scope
        self._failure = describe_failure(failure)
        self._hold_clock = hold
        self._seed_lock = threading.Lock()
        self._seeding: Future[None] | None = None

    async def _seeded(self) -> None:
        """Read the file once (every loop and thread awaits the same read), before deciding."""
        with self._seed_lock:
            future = self._seeding
            if future is None:
                executor = ThreadPoolExecutor(1, thread_name_prefix="lacale-quota-read")
                future = self._seeding = executor.submit(self._seed_job)
                executor.shutdown(wait=False)  # its thread ends after this one job
        if not future.done():
            with self._hold_clock():  # the job reads the clock
                await asyncio.shield(asyncio.wrap_future(future))

    def _seed_job(self) -> None:
        try:
            stamps, pause = _read_back(self._path, self._scope)
        except Exception as exc:
            # Any failure, an unforeseen one too, is this one WARNING: raised here it reached
            # only the caller that awaited the read, and the others went on from a full
            # budget without a word.
            reason = f"{self._failure}; reading it failed too: {describe_failure(exc)}"
            warn_unusable(self._path, reason)
            return
        self.seed(stamps, pause)
        if _first((str(self._path), self._scope)):
            self._warn_seeded(len(stamps), pause)

    def _warn_seeded(self, units: int, pause: float) -> None:
        paused = ""
        if pause > self.now() and math.isfinite(pause):
            paused = f", and its 429 pause until {utc(pause).isoformat(timespec='seconds')}"
        logger.warning(
            "cannot write to the quota store %r (%s); the key-wide budget is kept in memory "
            "for this process and goes on from the %d unit(s) of this key read from the file%s "
            "(opened read-only: nothing is written to it). What this process spends is not "
            "recorded there, so later runs and other processes do not count it and the "
            "tracker may answer 429. Fix the file or its folder (permissions, disk) or move "
            "it away to share the budget again",
            str(self._path),
            self._failure,
            units,
            paused,
        )

    async def take(self, spans: Sequence[Span], lease: float) -> Grant | Refusal:
        """Take one unit if every window (what the file records included) allows it."""
        await self._seeded()
        return await super().take(spans, lease)

    async def pause(self, seconds: float) -> bool:
        """Let no unit be taken for ``seconds``; True if a pause was already running."""
        await self._seeded()
        return await super().pause(seconds)

    async def usage(self, spans: Sequence[Span]) -> Usage:
        """Return every window's usage, what the file records included."""
        await self._seeded()
        return await super().usage(spans)
