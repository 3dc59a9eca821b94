"""The SDK's own small SQLite files (the key budget's store, a watch's state): opened one way.

Both want the same things of a file: created private (0600: it says which keys and searches a
user has), WAL mode so a reader never blocks the writer, a busy timeout so contending processes
queue instead of failing, and a format check before anything is written: a file of a newer
version, a damaged one, or (with an ``application_id``) someone else's SQLite file is refused,
never written over.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
from pathlib import Path

__all__ = ["BUSY_TIMEOUT", "FAR", "describe_failure", "open_database", "sound_time"]

BUSY_TIMEOUT = 5.0
"""Seconds a process waits for another one's write transaction (they last microseconds)."""
FAR = 1e11
"""Unix seconds of the year 5138: a stamp beyond is damage, not a date (dates end at 9999)."""


def sound_time(column: str) -> str:
    """Return the SQL test that ``column`` holds a time the SDK could have written.

    SQLite's REAL affinity stores whatever it is given that is not a number (text, a blob),
    and ``inf`` too: none of these is a time the SDK wrote, and one reaching a date or the
    window arithmetic crashes far from the file. ``typeof`` rules out text and blobs (and
    NULL), ``abs()`` an absurd size and infinity.

    Args:
        column: A column name (or ``table.column``), never user input.

    Returns:
        A parenthesised SQL expression, true for a sound time.
    """
    return f"(typeof({column}) = 'real' AND abs({column}) < {FAR:.0f})"


def open_database(
    path: Path | None,
    *,
    schema: str,
    version: int,
    application_id: int | None = None,
    kind: str = "lacale-async file",
    make_parents: bool = False,
    check_same_thread: bool = True,
) -> sqlite3.Connection:
    """Open and set up the database at ``path`` (None: in memory), in autocommit mode.

    Args:
        path: The file; created with mode 0600 when missing.
        schema: ``CREATE ... IF NOT EXISTS`` statements.
        version: The format this code writes (``PRAGMA user_version``).
        application_id: Marks the file as ours; a file with another id, or an unmarked file
            that already holds tables, is refused. None: no mark (any file of our format).
        kind: What the file is, for messages ("watch state").
        make_parents: Create the missing folders on the way (a cache folder).
        check_same_thread: False when several threads share the connection under a lock.

    Returns:
        The connection, schema in place.

    Raises:
        sqlite3.Error: Not a database, damaged, of a newer format, or not ours.
        OSError: The file or its folder cannot be created or opened.
    """
    if path is None:
        conn = sqlite3.connect(
            ":memory:", isolation_level=None, check_same_thread=check_same_thread
        )
    else:
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, "it is a folder")
        if make_parents:
            path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        conn = sqlite3.connect(
            path,
            timeout=BUSY_TIMEOUT,
            isolation_level=None,
            check_same_thread=check_same_thread,
        )
    try:
        _prepare(conn, schema, version, application_id, kind)
    except BaseException:
        conn.close()
        raise
    return conn


def _prepare(
    conn: sqlite3.Connection, schema: str, version: int, application_id: int | None, kind: str
) -> None:
    found = conn.execute("PRAGMA user_version").fetchone()[0]
    app_id = None
    if application_id is not None:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        if app_id != application_id:
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if app_id != 0 or found != 0 or tables:
                raise sqlite3.DatabaseError(f"it is an SQLite file, but not a {kind}")
    if found > version:
        raise sqlite3.DatabaseError(f"written by a newer lacale-async (format {found})")
    if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
        raise sqlite3.DatabaseError("the integrity check failed")
    # NORMAL: no fsync per commit in WAL mode (a power cut may lose the last few writes, never
    # corrupt the file).
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(schema)
    # Written only when they change: each is a write, which waits the busy timeout when
    # another program holds the file locked (the schema statements above do not write then).
    if application_id is not None and app_id != application_id:
        conn.execute(f"PRAGMA application_id = {application_id}")
    if found != version:
        conn.execute(f"PRAGMA user_version = {version}")


def describe_failure(exc: BaseException) -> str:
    """Return what went wrong with a file, for a message (an OS error's text, else the error)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
