"""The quota store's rows, read and written on a real SQLite file (the store's own schema).

Each test opens the file as the store does (``open_database`` with the store's schema), writes
rows by hand where a test needs one the SDK never writes, and calls the module's functions on
that connection directly: no worker thread, no ledger, the time passed in.
"""

from __future__ import annotations

import logging
import math
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from lacale_async import _journal as journal_module
from lacale_async._journal import Journal
from lacale_async._pending import Pending
from lacale_async._sqlite import open_database
from lacale_async._store_file import _SCHEMA, _VERSION, StoreDamaged
from lacale_async._store_rows import (
    history,
    read_rows,
    record_horizon,
    recorded,
    replay_journals,
    stored_keep,
    write_pending,
)

DAY = 86_400.0
TWO_DAYS = 2 * DAY
NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z, as a FakeClock's wall starts
UNITS_DAMAGED = r"^a row of its units table is damaged \(a time that is not a number\)$"
needs_locks = pytest.mark.skipif(not journal_module.LOCKS, reason="no fcntl: no journal")


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "q.sqlite3"


@pytest.fixture
def conn(store: Path) -> Iterator[sqlite3.Connection]:
    connection = open_database(store, schema=_SCHEMA, version=_VERSION)
    yield connection
    connection.close()


def put(conn: sqlite3.Connection, scope: str, token: str, at: object, live: object = 0) -> None:
    """Insert a unit row as the SDK writes one (expires two days on), ``at`` as SQL text."""
    conn.execute(
        f"INSERT INTO units VALUES (?, ?, {at}, {live}, {NOW + TWO_DAYS})",
        (scope, token),
    )


def units(conn: sqlite3.Connection) -> list[tuple[str, str, float, int, float]]:
    return conn.execute("SELECT * FROM units ORDER BY scope, token").fetchall()


def write_journal(store: Path, body: bytes, name: str = "0123456789abcdef") -> Path:
    """A journal as a dead process leaves it: the file, no process holding its lock."""
    path = store.with_name(f"{store.name}.journal-{name}")
    path.write_bytes(b"lacale-quota-journal 1\n" + body)
    return path


# -- reading ---------------------------------------------------------------------------------


def test_read_rows_splits_in_flight_units_from_exit_stamps_and_reads_the_pause(
    conn: sqlite3.Connection,
) -> None:
    put(conn, "s", "done-late", NOW - 10)
    put(conn, "s", "done-early", NOW - 50)
    put(conn, "s", "flying", NOW + 30, live=1)  # ``at`` of a live unit is its lease end
    put(conn, "s", "lease-over", NOW - 5, live=1)  # its process vanished: done at the lease end
    put(conn, "s", "too-old", NOW - 3 * DAY)
    put(conn, "s", "old-live", NOW - 3 * DAY, live=1)  # live rows are read whatever their age
    put(conn, "other", "elsewhere", NOW - 1)
    assert read_rows(conn, "s", NOW - DAY, NOW) == (
        1,
        [NOW - 3 * DAY, NOW - 50, NOW - 10, NOW - 5],
        -math.inf,
    )
    conn.execute("INSERT INTO pauses VALUES ('s', ?), ('other', ?)", (NOW + 600, NOW + 9000))
    assert read_rows(conn, "s", NOW - DAY, NOW)[2] == NOW + 600


@pytest.mark.parametrize(
    ("at", "live", "expires"),
    [
        ("'soon'", 0, "0.0"),  # text: REAL affinity keeps what is not a number
        ("x'00'", 0, "0.0"),  # a blob
        ("9e999", 0, "0.0"),  # +inf
        ("1e12", 0, "0.0"),  # finite, but past the year 5138: no date
        ("{now}", 2, "0.0"),  # ``live`` is a flag
        ("{now}", 0, "9e999"),  # an expiry of +inf would never be swept
        ("{now}", 0, "'never'"),
    ],
)
def test_read_rows_refuses_a_row_the_sdk_never_writes(
    conn: sqlite3.Connection, at: str, live: int, expires: str
) -> None:
    conn.execute(f"INSERT INTO units VALUES ('s', 'bad', {at.format(now=NOW)}, {live}, {expires})")
    with pytest.raises(StoreDamaged, match=UNITS_DAMAGED):
        read_rows(conn, "s", NOW - DAY, NOW)


def test_read_rows_ignores_damage_in_rows_it_does_not_read(conn: sqlite3.Connection) -> None:
    conn.execute("INSERT INTO units VALUES ('other', 'bad', 'soon', 0, 0.0)")
    conn.execute("INSERT INTO units VALUES ('s', 'old', ?, 0, 'never')", (NOW - 3 * DAY,))
    assert read_rows(conn, "s", NOW - DAY, NOW) == (0, [], -math.inf)


def test_a_damaged_pause_is_refused_by_read_rows(conn: sqlite3.Connection) -> None:
    conn.execute("INSERT INTO pauses VALUES ('s', 'later')")
    with pytest.raises(StoreDamaged, match=r"^a row of its pauses table is damaged \(not a finite"):
        read_rows(conn, "s", NOW - DAY, NOW)


def test_history_seeds_from_the_sound_rows_of_two_days(conn: sqlite3.Connection) -> None:
    put(conn, "s", "recent", NOW - 100)
    put(conn, "s", "day-old", NOW - DAY)
    put(conn, "s", "three-days", NOW - 3 * DAY)  # no window kept counts it
    put(conn, "s", "flying", NOW + 30, live=1)  # in flight: the mirror hears of its end
    put(conn, "s", "text", "'soon'")  # damage is skipped, never raised
    conn.execute("INSERT INTO pauses VALUES ('s', 'later')")
    assert history(conn, "s", NOW) == ([NOW - DAY, NOW - 100], -math.inf)
    conn.execute("UPDATE pauses SET until = ?", (NOW + 60,))
    assert history(conn, "s", NOW)[1] == NOW + 60


def test_recorded_returns_every_sound_stamp_live_ones_as_done(conn: sqlite3.Connection) -> None:
    put(conn, "s", "a", NOW - 10)
    put(conn, "s", "flying", NOW + 30, live=1)  # no end reaches a reader: done at lease end
    put(conn, "s", "week-old", NOW - 7 * DAY)  # no age limit: the reader's windows decide
    put(conn, "s", "blob", "x'00'")
    put(conn, "s", "bad-flag", NOW, live=7)
    put(conn, "other", "b", NOW - 1)
    conn.execute("INSERT INTO pauses VALUES ('s', ?)", (NOW + 60,))
    assert recorded(conn, "s") == ([NOW - 7 * DAY, NOW - 10, NOW + 30], NOW + 60)
    conn.execute("UPDATE pauses SET until = 'later'")
    assert recorded(conn, "s")[1] == -math.inf


# -- how long rows are kept -----------------------------------------------------------------


def test_rows_are_kept_two_days_before_any_horizon_is_recorded(conn: sqlite3.Connection) -> None:
    assert stored_keep(conn, "s", NOW) == TWO_DAYS
    assert record_horizon(conn, "s", 60.0, NOW) == TWO_DAYS  # a short window keeps the floor
    conn.execute("INSERT INTO horizons VALUES ('hand', 60.0, ?)", (NOW + DAY,))
    assert stored_keep(conn, "hand", NOW) == TWO_DAYS  # even one written short, by hand


def test_a_long_horizon_is_kept_until_a_horizon_after_its_last_unit(
    conn: sqlite3.Connection,
) -> None:
    week = 7 * DAY
    assert record_horizon(conn, "s", week, NOW) == week
    assert stored_keep(conn, "other", NOW) == TWO_DAYS  # per scope
    # A short-window user later never shortens it, nor the time it is remembered for.
    assert record_horizon(conn, "s", 60.0, NOW + DAY) == week
    assert stored_keep(conn, "s", NOW + week) == week
    assert stored_keep(conn, "s", NOW + week + 1) == TWO_DAYS


def test_a_longer_horizon_extends_the_rows_already_written(conn: sqlite3.Connection) -> None:
    put(conn, "s", "a", NOW - 10)  # expires two days after NOW, less than ``at + week``
    put(conn, "other", "b", NOW - 10)
    record_horizon(conn, "s", 7 * DAY, NOW)
    expiries = {token: expires for _, token, _, _, expires in units(conn)}
    assert expiries == {"a": NOW - 10 + 7 * DAY, "b": NOW + TWO_DAYS}


def test_a_damaged_horizon_is_refused(conn: sqlite3.Connection) -> None:
    conn.execute("INSERT INTO horizons VALUES ('s', 'long', ?)", (NOW + DAY,))
    with pytest.raises(StoreDamaged, match=r"^a row of its horizons table is damaged \(not a num"):
        stored_keep(conn, "s", NOW)


# -- writing ---------------------------------------------------------------------------------


def test_write_pending_writes_units_drops_and_a_pause_never_shortened(
    conn: sqlite3.Connection,
) -> None:
    put(conn, "s", "never-left", NOW - 5, live=1)
    put(conn, "s", "ended", NOW + 40, live=1)
    conn.execute("INSERT INTO pauses VALUES ('s', ?)", (NOW + 900,))
    pending = Pending()
    pending.unit("ended", NOW - 1, live=False)  # the same token: its row is updated
    pending.unit("new", NOW + 40, live=True)
    pending.drop("never-left")
    pending.hold(NOW + 60)
    written = write_pending(conn, "s", pending, keep=DAY)
    assert written == pending.snapshot()
    assert units(conn) == [
        ("s", "ended", NOW - 1, 0, NOW - 1 + DAY),
        ("s", "new", NOW + 40, 1, NOW + 40 + DAY),
    ]
    assert conn.execute("SELECT * FROM pauses").fetchall() == [("s", NOW + 900)]
    without_pause = Pending()
    without_pause.unit("a", NOW, live=False)
    assert write_pending(conn, "t", without_pause, keep=DAY) == ({"a": (NOW, False)}, -math.inf)
    assert conn.execute("SELECT scope FROM pauses").fetchall() == [("s",)]  # none for "t"


# -- replaying crash journals ----------------------------------------------------------------


@needs_locks
def test_a_dead_processs_journal_is_replayed_once_and_deleted(
    conn: sqlite3.Connection, store: Path
) -> None:
    put(conn, "s", "a", NOW - 10)  # the owner wrote this one before it died
    put(conn, "s", "never-left", NOW + 30, live=1)
    journal = write_journal(
        store,
        f"U s a {NOW - 10!r} 0\nU s b {NOW + 30!r} 1\nU s gone {NOW - 3 * DAY!r} 0\n"
        f"D s never-left\nP s {NOW + 120!r}\nP t {NOW - 1!r}\n".encode(),
    )
    replay_journals(conn, store, NOW)
    assert not journal.exists()
    assert units(conn) == [
        ("s", "a", NOW - 10, 0, NOW - 10 + TWO_DAYS),  # counted once: keyed by its token
        ("s", "b", NOW + 30, 1, NOW + 30 + TWO_DAYS),
    ]  # "never-left" goes, and "gone" is older than every window kept
    assert conn.execute("SELECT * FROM pauses").fetchall() == [("s", NOW + 120)]  # t's is over
    replay_journals(conn, store, NOW)  # nothing left to replay: nothing changes
    assert len(units(conn)) == 2


@needs_locks
def test_a_live_processs_journal_is_left_to_it(conn: sqlite3.Connection, store: Path) -> None:
    own = Journal(store)  # holds its lock for as long as it exists, as a running process
    own.unit("s", "mine", (NOW, False))
    assert own.path is not None
    replay_journals(conn, store, NOW)
    assert own.path.exists()
    assert units(conn) == []


@needs_locks
def test_a_torn_journal_is_replayed_up_to_the_damage_with_a_warning(
    conn: sqlite3.Connection, store: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = write_journal(store, f"U s a {NOW!r} 0\nU s b {NOW!r}".encode())
    caplog.set_level(logging.WARNING, logger="lacale_async")
    replay_journals(conn, store, NOW)
    assert [token for _, token, *_ in units(conn)] == ["a"]
    [warning] = [r.getMessage() for r in caplog.records]
    assert str(journal) in warning
    assert "damaged (cut short by a crash)" in warning
    assert "may count fewer units than were spent" in warning


@needs_locks
def test_a_locked_store_leaves_the_journals_for_later(
    conn: sqlite3.Connection, store: Path
) -> None:
    journal = write_journal(store, f"U s a {NOW!r} 0\n".encode())
    conn.execute("PRAGMA busy_timeout = 0")  # fail at once rather than wait the 5 s
    other = sqlite3.connect(store, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            replay_journals(conn, store, NOW)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert journal.exists()
    replay_journals(conn, store, NOW)  # the next try gets through
    assert not journal.exists()
    assert len(units(conn)) == 1
