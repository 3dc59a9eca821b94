"""The quota store's crash journal: what a lock kept from the store, on disk until written.

While another program holds the store locked, the units a process spends are decided in its
memory (``_pending``) and written once the store is free. A process that dies first (a crash,
a kill, an exit while the lock lasts) would take them with it, and the next run would get back
budget really spent. So each of them is also appended, before the request is sent, to a
journal of the process's own next to the store (``<store>.journal-<random>``): one line per
change, written with ``O_APPEND`` and an ``fsync`` (only while the store is locked, so rarely).

Ownership is an exclusive ``flock`` held for as long as the journal exists: a process that can
take it knows the owner is gone (a dead process's locks are released by the OS) and replays
the journal into the store (``_store_rows.replay_journals``), then deletes it. Replaying is
idempotent: a line names its unit by the unit's own random token, the store's key, so a
journal replayed twice, or replayed while its units are already in the store, counts each unit
once. Once its units are written, the owner rewrites its journal to what is still pending
(a new file, then the old one deleted: a crash in between leaves both, which is harmless), or
deletes it.

The lines are written where the unit is noted: on the event loop for a take decided in memory
(one short write and an ``fsync``, milliseconds, after a request that has just waited the busy
timeout). In the worker thread the write would queue behind the jobs waiting on the lock, and
the request would leave before its unit is on disk.

Not covered: an OS crash or power loss before the ``fsync`` returns (the store itself, with
``synchronous=NORMAL``, may lose its last transactions then too), and a unit given back (a
request that never left) in the instant between the store's commit and the journal's rewrite,
which a replay counts as spent: a crash may cost a unit, never give one back.

A journal line is ``U scope token at live`` (a unit, its time and whether it is in flight),
``D scope token`` (a unit that never left: its row goes) or ``P scope until`` (a 429 pause),
after a header line. Without ``fcntl`` (Windows) there is no journal: what the lock keeps out
lives in memory only, as when the journal cannot be created (a read-only folder, a full disk),
which one WARNING says.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import secrets
import threading
import weakref
from pathlib import Path
from typing import NamedTuple

from ._sqlite import FAR

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no journal (documented)
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCKS", "Claimed", "Journal", "Row", "claim", "parse"]

logger = logging.getLogger("lacale_async")

Row = tuple[float, bool] | None
"""``(at, live)`` of a unit to write, or None for a unit to delete (it never left)."""

LOCKS = fcntl is not None
"""Whether this platform has the file locks a journal needs (not on Windows)."""

_HEADER = b"lacale-quota-journal 1"
_INFIX = ".journal-"
_HEX = frozenset("0123456789abcdef")
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class Journal:
    """This process's journal of one store: what its ledgers could not write yet.

    Every method takes the journal's lock; callers hold their ``Pending`` lock first.

    Args:
        store: The store's database file (the journal is created next to it).
    """

    __slots__ = ("__weakref__", "_fd", "_lock", "_off", "_path", "_pauses", "_store", "_units")

    def __init__(self, store: Path) -> None:
        self._store = store
        self._lock = threading.Lock()
        # One slot, so that the finalizer closes the descriptor of the moment: the lock goes
        # with it, and the journal is left for the next process that opens the store.
        self._fd: list[int] = []
        self._path: Path | None = None
        self._units: dict[tuple[str, str], Row] = {}
        self._pauses: dict[str, float] = {}
        self._off = False
        weakref.finalize(self, _close, self._fd)

    @property
    def path(self) -> Path | None:
        """The journal file while it holds something, else None."""
        return self._path

    def unit(self, scope: str, token: str, row: Row) -> None:
        """Append a unit's change (a drop only to an existing journal: it adds nothing)."""
        with self._lock:
            self._units[(scope, token)] = row
            if row is None and self._path is None:
                return
            self._append(_unit_line(scope, token, row))

    def pause(self, scope: str, until: float) -> None:
        """Append a pause of ``scope`` until ``until``."""
        with self._lock:
            self._pauses[scope] = max(self._pauses.get(scope, -math.inf), until)
            self._append(f"P {scope} {until!r}\n".encode())

    def settle(self, scope: str, units: dict[str, Row], pause: float) -> None:
        """Make ``scope``'s part what is still pending; rewrite the journal, or delete it."""
        with self._lock:
            kept = {key: row for key, row in self._units.items() if key[0] != scope}
            kept.update(((scope, token), row) for token, row in units.items())
            self._units = kept
            if pause > -math.inf:
                self._pauses[scope] = pause
            else:
                self._pauses.pop(scope, None)
            if self._path is None:
                return
            # Even after an append failed (the file then lacks a line, perhaps a drop that a
            # replay would count as spent), the file is made what memory holds, or deleted.
            if any(row is not None for row in kept.values()) or self._pauses:
                if self._rewrite():
                    self._off = False  # whole again: appending resumes
            else:
                self._delete()

    def _append(self, line: bytes) -> None:
        if self._off:
            return
        try:
            if self._path is None:
                self._path = self._create(_HEADER + b"\n" + line)
            else:
                _write(self._fd[0], line)
        except OSError as exc:
            self._off = True
            _warn_off(self._store, exc)

    def _rewrite(self) -> bool:
        lines = [_unit_line(scope, token, row) for (scope, token), row in self._units.items()]
        lines += [f"P {scope} {until!r}\n".encode() for scope, until in self._pauses.items()]
        old_path, old_fd = self._path, self._fd.pop()
        try:
            self._path = self._create(b"".join([_HEADER, b"\n", *lines]))
        except OSError:
            # The old journal holds all this and more (units written since): replaying it
            # counts nothing twice, so it stays, and is appended to.
            self._fd.append(old_fd)
            self._path = old_path
            return False
        _unlink(old_path)
        os.close(old_fd)
        return True

    def _delete(self) -> None:
        _unlink(self._path)
        _close(self._fd)
        self._path = None

    def _create(self, content: bytes) -> Path:
        """Create a journal holding ``content``, locked; return its path (fd in the slot)."""
        if fcntl is None:  # pragma: no cover - Windows
            raise OSError("this platform has no fcntl file locks")
        folder = self._store.parent
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | _CLOEXEC
        for _ in range(3):
            path = folder / f"{self._store.name}{_INFIX}{secrets.token_hex(8)}"
            fd = os.open(path, flags, 0o600)
            try:
                # Another process scanning may lock (and delete) the new empty file before
                # this one does: then this name is given up for another.
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if _same(fd, path):
                    _write(fd, content)
                    _sync_folder(folder)
                    self._fd.append(fd)
                    return path
            except BlockingIOError:
                pass
            except OSError:
                os.close(fd)
                _unlink(path)
                raise
            os.close(fd)
        raise OSError("other processes kept taking the new journal")


class Claimed(NamedTuple):
    """A journal whose owner is gone, locked by this process until :meth:`release`."""

    path: Path
    fd: int
    units: dict[tuple[str, str], Row]
    pauses: dict[str, float]
    damaged: bool

    def release(self, *, delete: bool) -> None:
        """Unlock the journal, deleted first when ``delete`` (its units are in the store)."""
        if delete:
            _unlink(self.path)
        os.close(self.fd)


def claim(store: Path) -> list[Claimed]:
    """Lock and read every journal of ``store`` whose owner is gone (none without fcntl).

    A journal still locked is its owner's (alive, this process's own included: its units are
    in its memory and written by it). An unreadable one is left alone.
    """
    if fcntl is None:  # pragma: no cover - Windows
        return []
    prefix = store.name + _INFIX
    try:
        with os.scandir(store.parent) as entries:
            names = [entry.name for entry in entries if _named(entry.name, prefix)]
    except OSError:
        return []
    found = []
    for name in names:
        claimed = _claim(store.parent / name)
        if claimed is not None:
            found.append(claimed)
    return found


def _claim(path: Path) -> Claimed | None:
    try:
        fd = os.open(path, os.O_RDONLY | _CLOEXEC)
    except OSError:
        return None  # deleted meanwhile (its owner wrote its units), or not ours to read
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        # Deleted (written) or replaced since it was opened: nothing of it is left to replay.
        data = _read(fd) if _same(fd, path) else None
    except OSError:
        data = None
    parsed = None if data is None else parse(data)
    if parsed is None:
        os.close(fd)
        return None
    return Claimed(path, fd, *parsed)


def _named(name: str, prefix: str) -> bool:
    tail = name[len(prefix) :]
    return name.startswith(prefix) and len(tail) == 16 and all(c in _HEX for c in tail)


def parse(data: bytes) -> tuple[dict[tuple[str, str], Row], dict[str, float], bool] | None:
    """Return a journal's units (last change of each), pauses and whether it is damaged.

    Damage (a line torn by a crash, anything not a journal line) ends the reading: what was
    read before it is returned. An empty file is a journal whose process died as it created
    it (nothing in it); a file without the journal's header is not one (None: left alone).
    """
    units: dict[tuple[str, str], Row] = {}
    pauses: dict[str, float] = {}
    if not data:
        return units, pauses, False
    lines = data.split(b"\n")
    if lines[0] != _HEADER:
        return None
    damaged = lines.pop() != b""  # the bytes after the last newline: a torn last write
    for line in lines[1:]:
        if not line.isascii():
            return units, pauses, True
        fields = line.decode("ascii").split(" ")
        if not all(field.isprintable() and field for field in fields):
            return units, pauses, True
        kind, *rest = fields
        if kind == "U" and len(rest) == 4 and rest[3] in ("0", "1") and _time(rest[2]):
            units[(rest[0], rest[1])] = (float(rest[2]), rest[3] == "1")
        elif kind == "D" and len(rest) == 2:
            units[(rest[0], rest[1])] = None
        elif kind == "P" and len(rest) == 2 and _time(rest[1]):
            pauses[rest[0]] = max(pauses.get(rest[0], -math.inf), float(rest[1]))
        else:
            return units, pauses, True
    return units, pauses, damaged


def _time(text: str) -> bool:
    if "_" in text:  # float() reads "1_000.5"; repr() never writes one
        return False
    try:
        value = float(text)
    except ValueError:
        return False
    return math.isfinite(value) and abs(value) < FAR


def _unit_line(scope: str, token: str, row: Row) -> bytes:
    if row is None:
        return f"D {scope} {token}\n".encode()
    return f"U {scope} {token} {row[0]!r} {int(row[1])}\n".encode()


def _write(fd: int, data: bytes) -> None:
    # One write of a few dozen bytes (O_APPEND): a crash leaves it whole or absent; the fsync
    # carries it through an OS crash too.
    while data:
        data = data[os.write(fd, data) :]
    os.fsync(fd)


def _read(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _same(fd: int, path: Path) -> bool:
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (mine.st_dev, mine.st_ino)


def _sync_folder(folder: Path) -> None:
    # The new name must survive an OS crash too, not only its content.
    fd = os.open(folder, os.O_RDONLY | _CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink(path: Path | None) -> None:
    if path is not None:
        # Left behind if it cannot be deleted: replayed later, which counts nothing twice.
        with contextlib.suppress(OSError):
            os.unlink(path)


def _close(slot: list[int]) -> None:
    while slot:
        os.close(slot.pop())


def _warn_off(store: Path, exc: OSError) -> None:
    logger.warning(
        "the quota store %s is locked by another program, and its crash journal cannot be "
        "written next to it (%s): what this process spends meanwhile is kept in its memory "
        "only until the store is free again. If the process crashes or exits before, later "
        "runs and other processes do not count it and the tracker may answer 429",
        store,
        exc.strerror or exc,
    )
