"""The watch state's SQL: its schema, and the statements that check or take its rows.

Only :func:`~lacale_async._sqlite.sound_time`'s fixed SQL is formatted into them (S608).
"""

from __future__ import annotations

from ._sqlite import sound_time

__all__ = [
    "APPLICATION_ID",
    "DAMAGED_TIMES",
    "PENDING",
    "SCHEMA",
    "SOUND_SEEN_AT",
    "TAKE",
    "VERSION",
]

APPLICATION_ID = 0x4C435754  # "LCWT": a lacale watch state, not any SQLite file
VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS queries (key TEXT PRIMARY KEY, last_round REAL NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS seen (
    key TEXT NOT NULL, ident TEXT NOT NULL, first_seen REAL NOT NULL, last_seen REAL NOT NULL,
    PRIMARY KEY (key, ident)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_by_age ON seen (last_seen);
CREATE TABLE IF NOT EXISTS pending (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, ident TEXT NOT NULL,
    seen_at REAL NOT NULL, torrent BLOB NOT NULL, UNIQUE (key, ident)
);
CREATE TABLE IF NOT EXISTS leases (
    key TEXT NOT NULL, ident TEXT NOT NULL, owner TEXT NOT NULL, until REAL NOT NULL,
    PRIMARY KEY (key, ident)
) WITHOUT ROWID;
"""
# Added to format 1 without a new version: an older lacale-async ignores the table (and hands
# out the outbox its own way), so a state file keeps working in both.
# A lease is taken when no live lease of another watch holds the row; a damaged ``until`` counts
# as expired (a lease only keeps a second process off; ignoring it risks a duplicate, never a
# loss). The f-string only inlines sound_time's fixed SQL.
TAKE = (
    "INSERT INTO leases (key, ident, owner, until) SELECT :key, :ident, :owner, :until "  # noqa: S608
    "WHERE EXISTS (SELECT 1 FROM pending WHERE key = :key AND ident = :ident) "
    "ON CONFLICT (key, ident) DO UPDATE SET owner = excluded.owner, until = excluded.until "
    f"WHERE leases.owner = excluded.owner OR NOT {sound_time('leases.until')} "
    "OR leases.until <= :now"
)
# Every stored time, checked once when the file is opened (the outbox again on each read: its
# time becomes the event's ``seen_at``, a date, so it must not precede 1970 either: a date of
# year 0 does not exist). The f-strings only inline sound_time's fixed SQL.
SOUND_SEEN_AT = f"{sound_time('seen_at')} AND seen_at >= 0"
DAMAGED_TIMES = (
    ("queries", f"SELECT count(*) FROM queries WHERE NOT {sound_time('last_round')}"),  # noqa: S608
    (
        "seen",
        f"SELECT count(*) FROM seen WHERE NOT ({sound_time('first_seen')} "  # noqa: S608
        f"AND {sound_time('last_seen')})",
    ),
    ("pending", f"SELECT count(*) FROM pending WHERE NOT ({SOUND_SEEN_AT})"),  # noqa: S608
)
PENDING = (
    f"SELECT key, ident, seen_at, torrent, {SOUND_SEEN_AT} "  # noqa: S608
    "FROM pending ORDER BY seq"
)
