"""The quota store's rows: read type-checked, kept for the longest window of any user.

SQLite's REAL affinity stores whatever it is given that is not a number (text, a blob), and
``inf`` too: none of these is a time the SDK wrote, and one reaching the window arithmetic (or
a date) would crash a request whose answer is already in hand. So every row read is checked
in SQL, and one that fails the check is :class:`~lacale_async._store_file.StoreDamaged`.

How long rows are kept: at least two days, and at least the longest window any user of the
scope has taken a unit with, for as long as that user may still count them (``horizons``). The
writer's own window is not enough: a process on a 2 s ``key_rate`` would sweep the requests a
process on the daily window still counts. The two-day floor covers the tracker's daily window
(the default ``key_rate``) even before its first user shows up; the recorded horizons cover
longer ones.

Replaying a crash journal (``_journal``) writes the units of a process that died while the
store was locked, keyed by their own tokens: replaying twice, or after its owner wrote some of
them, counts each unit once.
"""

from __future__ import annotations

import logging
import math
import sqlite3
from pathlib import Path

from ._journal import Claimed, Row, claim
from ._pending import Pending, Snapshot
from ._sqlite import immediate, sound_time
from ._store_file import StoreDamaged

__all__ = [
    "history",
    "read_rows",
    "record_horizon",
    "recorded",
    "replay_journals",
    "stored_keep",
    "write_pending",
]

logger = logging.getLogger("lacale_async")

_MIN_KEEP = 2 * 86_400.0
# The check is in SQL (one pass over the rows read): a time is sound (``sound_time``, shared
# with the watch state), ``live`` a flag. The f-strings only inline that fixed SQL text.
_ROWS = (
    f"SELECT at, live, {sound_time('at')} AND live IN (0, 1) "  # noqa: S608
    "AND typeof(expires) = 'real' AND abs(expires) < :inf "
    "FROM units WHERE scope = :scope AND (live = 1 OR at > :since)"
)
_SOUND_ROWS = (
    "SELECT at, live FROM units WHERE scope = :scope AND at > :since "  # noqa: S608
    f"AND {sound_time('at')} AND live IN (0, 1)"
)
# NOT INDEXED: the table's own b-tree, never a secondary index (the damage a failed
# integrity check often finds is an index's, while the rows themselves still read).
_ALL_SOUND_ROWS = (
    "SELECT at FROM units NOT INDEXED WHERE scope = :scope "  # noqa: S608
    f"AND {sound_time('at')} AND live IN (0, 1)"
)
_PAUSE = f"SELECT until, {sound_time('until')} FROM pauses WHERE scope = :scope"  # noqa: S608


def _split(rows: list[tuple[float, int]], now: float) -> tuple[int, list[float]]:
    in_flight = sum(1 for at, live in rows if live and at > now)
    # A live unit past its lease counts as done at the lease end (its process vanished).
    return in_flight, sorted(at for at, live in rows if not (live and at > now))


def _pause(conn: sqlite3.Connection, scope: str) -> float:
    row = conn.execute(_PAUSE, {"scope": scope}).fetchone()
    if row is None:
        return -math.inf
    if not row[1]:
        raise StoreDamaged("a row of its pauses table is damaged (not a finite time)")
    until: float = row[0]
    return until


def read_rows(
    conn: sqlite3.Connection, scope: str, since: float, now: float
) -> tuple[int, list[float], float]:
    """Return units in flight, exit stamps (oldest first) and the pause deadline.

    Raises:
        StoreDamaged: A row read is not one the SDK writes.
    """
    found = conn.execute(_ROWS, {"inf": math.inf, "scope": scope, "since": since}).fetchall()
    if not all(sound for _, _, sound in found):
        raise StoreDamaged("a row of its units table is damaged (a time that is not a number)")
    in_flight, done = _split([(at, live) for at, live, _ in found], now)
    return in_flight, done, _pause(conn, scope)


def history(conn: sqlite3.Connection, scope: str, now: float) -> tuple[list[float], float]:
    """Return the scope's sound exit stamps and pause, to seed a mirror (damage skipped)."""
    found = conn.execute(_SOUND_ROWS, {"scope": scope, "since": now - _MIN_KEEP}).fetchall()
    try:
        pause = _pause(conn, scope)
    except StoreDamaged:
        pause = -math.inf  # the transaction that reads it next says so
    return _split(found, now)[1], pause


def recorded(conn: sqlite3.Connection, scope: str) -> tuple[list[float], float]:
    """Return every sound unit stamp of the scope, oldest first, and its pause (damage skipped).

    For a file that can only be read: a unit in flight elsewhere counts as done at its lease
    end (no end will reach this process), as a unit of a process that died does.
    """
    found = conn.execute(_ALL_SOUND_ROWS, {"scope": scope}).fetchall()
    try:
        pause = _pause(conn, scope)
    except StoreDamaged:
        pause = -math.inf
    return sorted(at for (at,) in found), pause


def stored_keep(conn: sqlite3.Connection, scope: str, now: float) -> float:
    """Return how long the scope's rows are kept now (every user's window counted)."""
    row = conn.execute(
        "SELECT horizon, until, typeof(horizon) = 'real' AND typeof(until) = 'real' "
        "FROM horizons WHERE scope = ?",
        (scope,),
    ).fetchone()
    if row is None:
        return _MIN_KEEP
    if not row[2]:
        raise StoreDamaged("a row of its horizons table is damaged (not a number)")
    return max(_MIN_KEEP, row[0]) if row[1] >= now else _MIN_KEEP


def record_horizon(conn: sqlite3.Connection, scope: str, horizon: float, now: float) -> float:
    """Note that a user counts ``horizon`` seconds back; return how long rows are kept.

    A horizon is remembered until ``horizon`` after its user's last unit: until then that
    user may come back and count every row of its window.
    """
    known = stored_keep(conn, scope, now)
    keep = max(known, horizon)
    conn.execute(
        "INSERT INTO horizons VALUES (:scope, :keep, :until) ON CONFLICT (scope) DO UPDATE "
        "SET horizon = :keep, until = max(until, :until)",
        {"scope": scope, "keep": keep, "until": now + horizon},
    )
    if keep > known:  # a longer window than any before: the rows it counts must stay too
        conn.execute(
            "UPDATE units SET expires = at + :keep WHERE scope = :scope AND expires < at + :keep",
            {"scope": scope, "keep": keep},
        )
    return keep


def write_pending(conn: sqlite3.Connection, scope: str, pending: Pending, keep: float) -> Snapshot:
    """Write what this process did while the store was locked; return what was written."""
    snapshot = pending.snapshot()
    units, pause = snapshot
    for token, row in units.items():
        _write_unit(conn, scope, token, row, keep)
    if pause > -math.inf:
        _write_pause(conn, scope, pause)
    return snapshot


def _write_unit(conn: sqlite3.Connection, scope: str, token: str, row: Row, keep: float) -> None:
    if row is None:
        conn.execute("DELETE FROM units WHERE scope = ? AND token = ?", (scope, token))
        return
    at, live = row
    conn.execute(
        "INSERT INTO units VALUES (?, ?, ?, ?, ?) ON CONFLICT (scope, token) DO UPDATE "
        "SET at = excluded.at, live = excluded.live, expires = excluded.expires",
        (scope, token, at, int(live), at + keep),
    )


def _write_pause(conn: sqlite3.Connection, scope: str, until: float) -> None:
    conn.execute(
        "INSERT INTO pauses VALUES (?, ?) ON CONFLICT (scope) DO UPDATE "
        "SET until = max(until, excluded.until)",
        (scope, until),
    )


def replay_journals(conn: sqlite3.Connection, store: Path, now: float) -> None:
    """Write the units of every journal whose process is gone, in one transaction; delete them.

    Units no window counts any more (older than every window kept) and pauses over are
    dropped. A journal still locked by its process (alive) is left to it.

    Raises:
        sqlite3.Error: The store is locked, or failed (the journals are left for later).
    """
    claimed = claim(store)
    if not claimed:
        return
    done = False
    try:
        with immediate(conn):
            for journal in claimed:
                _replay(conn, journal, now)
        done = True
    finally:
        for journal in claimed:
            journal.release(delete=done)
    for journal in claimed:
        if journal.damaged:
            logger.warning(
                "the crash journal %s of the quota store was damaged (cut short by a crash): "
                "the units it recorded before the damage were written to the store, the rest "
                "is lost, so the key-wide budget may count fewer units than were spent",
                journal.path,
            )


def _replay(conn: sqlite3.Connection, journal: Claimed, now: float) -> None:
    keeps: dict[str, float] = {}
    for (scope, token), row in journal.units.items():
        keep = keeps.get(scope)
        if keep is None:
            keep = keeps[scope] = stored_keep(conn, scope, now)
        if row is None or row[0] + keep >= now:
            _write_unit(conn, scope, token, row, keep)
    for scope, until in journal.pauses.items():
        if until >= now:
            _write_pause(conn, scope, until)
