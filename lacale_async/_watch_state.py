"""What a watch has seen and not yet delivered, in a small SQLite file (or in memory).

Why stdlib ``sqlite3``: one transaction per round makes "what was listed, what is new, what is
still to deliver" change together or not at all, whatever stops the process; WAL mode and a
busy timeout let a second process read or wait instead of failing. Without a path the same
schema lives in an in-memory database, so both modes follow the same rules.

Tables (rows keyed by the query's normalised key, never the API key):

- ``queries``: every query with a baseline, and when it was last polled;
- ``seen``: each release listed for a query (by info hash, or guid without one), first and
  last listed; rows not listed for 30 days go, and beyond the newest 1,000 per query (never
  one the last round listed: a release still listed is never re-announced). A query the
  watch still polls ages by its own rounds only (a wall clock set back while one round was
  stamped must not make another query's round forget it);
- ``pending``: releases found and not yet handled by the caller (the outbox). A round adds
  them with its other changes; each leaves it only once its consumer is done with it
  (at-least-once), so a watch stopped between two events, or while its consumer handled one,
  yields the rest (that one included) at its next start. No download token is stored.
- ``leases``: which watch is handing out which outbox row, until when: two processes on one
  file never hand out the same release at once. A lease ends when its consumer is done (the
  row goes), gives it back (a transient failure, an interruption: the row stays), or expires
  (:data:`LEASE`: the process died), and the row is then offered again.

A file that is not a watch state (another SQLite file, a damaged one, a newer format) raises
:class:`StorageError` before the first round: going on without it would lose what appeared
while the watch was down, and writing over it could destroy someone's data. So does a row
holding a time that is not one (text, a blob, ``1e300``: SQLite's REAL affinity keeps them),
checked in SQL as the quota store checks its rows (:func:`~lacale_async._sqlite.sound_time`).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import msgspec

from . import _watch_sql as sql
from ._errors import StorageError, redact_url
from ._models import Torrent, without_secrets
from ._responses import Scrub
from ._sqlite import describe_failure, open_database

__all__ = [
    "LEASE",
    "MAX_PER_QUERY",
    "RETENTION",
    "Pending",
    "Round",
    "WatchState",
    "release_id",
]

RETENTION = 30 * 86_400.0
"""Seconds a release (or a query) not listed (or not polled) any more is remembered."""
MAX_PER_QUERY = 1000
"""Most releases remembered per query (the newest listed)."""
LEASE = 900.0
"""Seconds a release being handled is kept from other processes on the file. Beyond it the
holder is presumed dead (killed: an interrupted one gives its leases back at once) and another
watch may offer the release again. Longer than a save plus ``lacale watch``'s default 600 s
``--exec-timeout``; a consumer slower than that may, at worst, see another process deliver
the release too (at-least-once)."""

_torrent_decoder = msgspec.json.Decoder(Torrent)


def release_id(torrent: Torrent) -> str:
    """Return what tells releases apart: the info hash (lowercase), else the guid."""
    info_hash = torrent.info_hash.strip().lower()
    return info_hash if info_hash else f"guid:{torrent.guid}"


class Pending(msgspec.Struct, frozen=True):
    """A release found by a round and not yet delivered.

    Attributes:
        key: The query's key.
        ident: The release's :func:`release_id`.
        seen_at: Wall time (Unix seconds) of the round that found it.
        torrent: The release (from an earlier process: without its download link).
    """

    key: str
    ident: str
    seen_at: float
    torrent: Torrent


class Round:
    """One round's changes to one query, inside the round's transaction."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        key: str,
        now: float,
        where: str,
        scrub: Scrub,
        spared: tuple[str, ...] = (),
    ) -> None:
        self._conn = conn
        self._scrub = scrub
        self._key = key
        self._spared = spared
        self._now = now
        self._where = where
        row = conn.execute("SELECT 1 FROM queries WHERE key = ?", (key,)).fetchone()
        self.baseline = row is None
        """True for the first round of this query: what it lists is the baseline."""

    def unseen(self, listed: Sequence[Torrent]) -> list[tuple[str, Torrent]]:
        """Return the releases of ``listed`` not seen before, once each, in listed order."""
        idents = list(dict.fromkeys(release_id(t) for t in listed))
        known: set[str] = set()
        if idents:
            marks = ",".join("?" * len(idents))
            with _storage(self._where, "reading what was seen"):
                rows = self._conn.execute(
                    f"SELECT ident FROM seen WHERE key = ? AND ident IN ({marks})",  # noqa: S608
                    (self._key, *idents),
                ).fetchall()
            known = {ident for (ident,) in rows}
        fresh: list[tuple[str, Torrent]] = []
        for torrent in listed:
            ident = release_id(torrent)
            if ident not in known:
                known.add(ident)
                fresh.append((ident, torrent))
        return fresh

    def record(
        self, listed: Iterable[Torrent], deliver: Sequence[tuple[str, Torrent]]
    ) -> list[Pending]:
        """Remember ``listed`` as seen now and queue ``deliver``; return the queued releases."""
        conn, key, now = self._conn, self._key, self._now
        queued = [Pending(key, ident, now, torrent) for ident, torrent in deliver]
        with _storage(self._where, "saving a round"):
            conn.execute(
                "INSERT INTO queries (key, last_round) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET last_round = excluded.last_round",
                (key, now),
            )
            conn.executemany(
                "INSERT INTO seen (key, ident, first_seen, last_seen) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (key, ident) DO UPDATE SET last_seen = excluded.last_seen",
                [(key, release_id(t), now, now) for t in listed],
            )
            conn.executemany(
                "INSERT OR IGNORE INTO pending (key, ident, seen_at, torrent) VALUES (?, ?, ?, ?)",
                [(p.key, p.ident, p.seen_at, _encode(p.torrent, self._scrub)) for p in queued],
            )
            self._prune()
        return queued

    def _prune(self) -> None:
        conn, cutoff, spared = self._conn, self._now - RETENTION, self._spared
        # The other queries this watch polls age by their own rounds only: one stamped while
        # the wall clock was set back must not look abandoned to this round (re-baselined,
        # its next new release lost).
        others = f"key NOT IN ({','.join('?' * len(spared))})"
        # Only placeholders are formatted into these statements (S608).
        conn.execute(f"DELETE FROM seen WHERE last_seen < ? AND {others}", (cutoff, *spared))  # noqa: S608
        # The cap never forgets what this round listed (all stamped now): a page longer than
        # the cap would otherwise lose some of its own releases, announced again next round.
        conn.execute(
            "DELETE FROM seen WHERE key = ? AND last_seen < ? AND ident NOT IN (SELECT ident "
            "FROM seen WHERE key = ? ORDER BY last_seen DESC, first_seen DESC LIMIT ?)",
            (self._key, self._now, self._key, MAX_PER_QUERY),
        )
        conn.execute(f"DELETE FROM queries WHERE last_round < ? AND {others}", (cutoff, *spared))  # noqa: S608
        conn.execute(
            f"DELETE FROM pending WHERE (seen_at < ? AND {others}) "  # noqa: S608
            "OR key NOT IN (SELECT key FROM queries)",
            (cutoff, *spared),
        )
        conn.execute(
            "DELETE FROM leases WHERE NOT EXISTS (SELECT 1 FROM pending p "
            "WHERE p.key = leases.key AND p.ident = leases.ident)"
        )


def _damaged(where: str, table: str) -> StorageError:
    # Refused rather than skipped: a damaged row is a file something else wrote to, and
    # dropping the row silently would lose the release it holds (or re-announce releases).
    # The user decides, as for any unusable file.
    return StorageError(
        f"the watch state {where} is damaged: a row of its {table} table holds a value that is "
        "not a time (text, a blob, an impossible date). Move it away or delete it to start "
        "afresh: the watch then takes a new baseline, so releases that appeared while it was "
        "stopped are not announced"
    )


@contextlib.contextmanager
def _storage(where: str, doing: str) -> Iterator[None]:
    """Turn a failure of the file into a :class:`StorageError` saying what was being done."""
    try:
        yield
    except StorageError:
        raise
    except (sqlite3.Error, OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise StorageError(
            f"the watch state {where} failed while {doing}: {describe_failure(exc)}"
        ) from None


def _encode(torrent: Torrent, scrub: Scrub) -> bytes:
    return msgspec.json.encode(without_secrets(torrent, scrub))


class WatchState:
    """The seen releases and the outbox of one watch: a SQLite file, or memory.

    Args:
        path: The file (created when missing, private to the user), or None for memory.
        scrub: Removes the key from a release's link (credential parameters by default).

    Raises:
        StorageError: The file cannot be opened, is not a watch state, is damaged or was
            written by a newer lacale-async.
    """

    def __init__(self, path: Path | None, scrub: Scrub = redact_url) -> None:
        self.path = path
        self._scrub = scrub
        self._conn: sqlite3.Connection | None = None
        try:
            self._conn = self._connect(path)
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(
                f"the watch state {path} cannot be used ({describe_failure(exc)}). Move it away or "
                "delete it to start afresh: the watch then takes a new baseline, so releases "
                "that appeared while it was stopped are not announced"
            ) from None
        try:
            self._check_times()
        except BaseException:
            self.close()
            raise

    def _check_times(self) -> None:
        with _storage(self.where, "checking its rows"):
            for table, query in sql.DAMAGED_TIMES:
                if self.conn.execute(query).fetchone()[0]:
                    raise _damaged(self.where, table)

    @staticmethod
    def _connect(path: Path | None) -> sqlite3.Connection:
        return open_database(
            path,
            schema=sql.SCHEMA,
            version=sql.VERSION,
            application_id=sql.APPLICATION_ID,
            kind="lacale watch state",
        )

    @property
    def conn(self) -> sqlite3.Connection:
        """The open connection."""
        if self._conn is None:
            raise StorageError("the watch state is closed")
        return self._conn

    @contextlib.contextmanager
    def round(self, key: str, now: float, watched: Iterable[str] = ()) -> Iterator[Round]:
        """Open one round's transaction: committed when the block ends, rolled back if it raises.

        ``watched``: the queries the watch polls; the round prunes none of the others' rows.

        Raises:
            StorageError: The file failed (disk full, locked by another process too long...).
        """
        with _storage(self.where, "starting a round"):
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            spared = tuple(k for k in watched if k != key)
            step = Round(conn, key, now, self.where, self._scrub, spared)
        try:
            yield step
        except BaseException:
            with _storage(self.where, "undoing a round"):
                conn.rollback()
            raise
        with _storage(self.where, "saving a round"):
            conn.commit()

    def pending(self, keys: Iterable[str]) -> list[Pending]:
        """Return the releases of these queries found earlier and not delivered, oldest first.

        Raises:
            StorageError: The file failed, or one of these rows is damaged (nothing is deleted).
        """
        wanted = set(keys)
        with _storage(self.where, "reading what was not delivered"):
            rows = self.conn.execute(sql.PENDING).fetchall()
            found: list[Pending] = []
            for key, ident, seen_at, blob, sound in rows:
                if key not in wanted:
                    continue
                if not sound:
                    raise _damaged(self.where, "pending")
                found.append(Pending(key, ident, seen_at, _torrent_decoder.decode(blob)))
            return found

    def take(self, item: Pending, owner: str, now: float) -> bool:
        """Lease an outbox row to ``owner`` for :data:`LEASE` seconds, to hand it out.

        Args:
            item: The row.
            owner: The watch taking it (a random name per watch).
            now: Wall time (Unix seconds).

        Returns:
            False when the row is gone (done elsewhere) or another live watch holds it.

        Raises:
            StorageError: The file failed.
        """
        params = {"key": item.key, "ident": item.ident, "owner": owner}
        with _storage(self.where, "taking a release to hand out"):
            cursor = self.conn.execute(sql.TAKE, {**params, "until": now + LEASE, "now": now})
            return cursor.rowcount == 1

    def done(self, item: Pending) -> None:
        """Take a release out of the outbox for good: its consumer is done with it.

        Raises:
            StorageError: The file failed (the release may then be offered again).
        """
        with _storage(self.where, "marking a release delivered"):
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                for table in ("pending", "leases"):
                    conn.execute(
                        f"DELETE FROM {table} WHERE key = ? AND ident = ?",  # noqa: S608
                        (item.key, item.ident),
                    )
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    def give_back(self, item: Pending, owner: str) -> None:
        """End ``owner``'s lease and keep the release in the outbox, to be offered again.

        Raises:
            StorageError: The file failed (the lease then expires after :data:`LEASE`).
        """
        with _storage(self.where, "giving a release back"):
            self.conn.execute(
                "DELETE FROM leases WHERE key = ? AND ident = ? AND owner = ?",
                (item.key, item.ident, owner),
            )

    def close(self) -> None:
        """Close the file; safe to call twice."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    @property
    def where(self) -> str:
        """The file's path, or ``in memory``, for messages."""
        return "in memory" if self.path is None else str(self.path)
