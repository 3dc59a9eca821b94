"""The SDK's own small SQLite files (the key budget's store, a watch's state): opened one way.

Both want the same things of a file: created private (0600: it says which keys and searches a
user has), WAL mode so a reader never blocks the writer, a busy timeout so contending processes
queue instead of failing, and a format check before anything is written: a file of a newer
version, a damaged one, or (with an ``application_id``) someone else's SQLite file is refused,
never written over. A file that cannot be opened for writing may still be read
(:func:`open_readonly`), so that what it records is not lost to the caller.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "BUSY_TIMEOUT",
    "FAR",
    "NotOurs",
    "describe_failure",
    "immediate",
    "is_busy",
    "open_database",
    "open_readonly",
    "sound_time",
]

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


# SQLITE_BUSY and SQLITE_LOCKED (the stdlib names them from 3.11 on, its stubs do not yet).
_BUSY_CODES = frozenset({5, 6})


class NotOurs(sqlite3.DatabaseError):
    """An SQLite file, but another program's (refused before anything is read or written)."""


@contextlib.contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """Run the block in one write transaction, its lock taken first; rolled back on error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def is_busy(exc: BaseException) -> bool:
    """Tell whether ``exc`` is another connection's lock (transient), not damage."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in _BUSY_CODES  # extended codes keep the primary one in the low byte
    return "locked" in str(exc)


def open_database(
    path: Path | None,
    *,
    schema: str,
    version: int,
    application_id: int | None = None,
    adopt: bool = False,
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
        adopt: With ``application_id``: an unmarked file holding nothing but (some of) what
            ``schema`` creates is ours, written before the mark existed, and is marked now.
        kind: What the file is, for messages ("watch state").
        make_parents: Create the missing folders on the way (a cache folder).
        check_same_thread: False when several threads share the connection under a lock.

    Returns:
        The connection, schema in place.

    Raises:
        NotOurs: Another program's SQLite file (left untouched).
        sqlite3.Error: Not a database, damaged, or of a newer format.
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
        _prepare(conn, schema, version, (application_id, adopt), kind)
    except BaseException:
        conn.close()
        raise
    return conn


def _prepare(
    conn: sqlite3.Connection,
    schema: str,
    version: int,
    mark: tuple[int | None, bool],
    kind: str,
) -> None:
    found = conn.execute("PRAGMA user_version").fetchone()[0]
    marked = mark[0] is None or _is_marked(conn, mark, found, schema, kind)
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
    if not marked:
        _mark(conn, mark)
    if found != version:
        conn.execute(f"PRAGMA user_version = {version}")


def _is_marked(
    conn: sqlite3.Connection, mark: tuple[int | None, bool], found: int, schema: str, kind: str
) -> bool:
    """Tell whether the file bears our mark; False for an unmarked file we may take.

    Raises:
        NotOurs: Another mark, or an unmarked file holding what our schema does not make.
    """
    application_id, adopt = mark
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    if app_id == application_id:
        return True
    # The sqlite_ names are SQLite's own (an ANALYZE by hand, say), never another program's.
    held = set(
        conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%'"
            " ESCAPE '\\'"
        ).fetchall()
    )
    empty = not held and found == 0
    # Our tables and nothing else: a file an earlier version wrote, before it was marked.
    earlier = adopt and bool(held) and held <= _made_by(schema)
    if app_id != 0 or not (empty or earlier):
        raise NotOurs(f"it is an SQLite file, but not a {kind}")
    return False


@functools.lru_cache(maxsize=4)
def _made_by(schema: str) -> frozenset[tuple[str, str, str, str]]:
    """Return what ``schema`` puts in ``sqlite_master`` (built in memory, once)."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.executescript(schema)
        return frozenset(conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"))
    finally:
        conn.close()


def _mark(conn: sqlite3.Connection, mark: tuple[int | None, bool]) -> None:
    application_id, adopt = mark
    if not adopt:
        conn.execute(f"PRAGMA application_id = {application_id}")
        return
    # A file we may adopt is recognised by its content: marking it need not wait, and must
    # not (opening runs where the caller is, an event loop maybe). Under another program's
    # lock it stays unmarked until an open that gets through.
    timeout = conn.execute("PRAGMA busy_timeout").fetchone()[0]
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        conn.execute(f"PRAGMA application_id = {application_id}")
    except sqlite3.OperationalError as exc:
        if not is_busy(exc):
            raise
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout)}")


def open_readonly(path: Path, *, immutable: bool = False) -> sqlite3.Connection:
    """Open ``path`` for reading only: nothing is created, converted or written.

    Args:
        path: An existing file.
        immutable: Read the main file as it is, without the locks and the ``-shm`` file a
            WAL reader needs (a folder that cannot be written); a ``-wal`` file is ignored.

    Returns:
        The connection (SQLite opens the file at its first statement).

    Raises:
        sqlite3.Error, ValueError: The path cannot be opened.
    """
    mode = "immutable=1" if immutable else "mode=ro"
    uri = f"{path.absolute().as_uri()}?{mode}"
    return sqlite3.connect(
        uri, uri=True, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
    )


def describe_failure(exc: BaseException) -> str:
    """Return what went wrong with a file, for a message (an OS error's text, else the error)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
