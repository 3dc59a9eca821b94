"""The quota store's file itself: whose it is (Q4), and one that can be read but not written (Q1).

A file that is not a quota store is refused untouched; a file of an earlier version (unmarked,
the store's own tables only) is adopted and marked. A store that cannot be opened read-write
still gives the budget what it records: the memory fallback starts from its rows.
"""

from __future__ import annotations

import gc
import logging
import sqlite3
from pathlib import Path

import pytest
from _mocked import SEARCH
from aioresponses import aioresponses
from conftest import API_KEY, BASE
from test_quota_store import client
from test_quota_store_faults import locked, short_busy

from lacale_async import FakeClock
from lacale_async._store_file import _SCHEMA, StoreFile
from lacale_async._stores import derive_scope

pytest_plugins = ["_mocked"]

SCOPE = derive_scope(API_KEY, BASE)
QUOTA_MARK = 0x4C435154  # "LCQT": part of the file format, pinned here


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def names_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def application_id(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        found: int = conn.execute("PRAGMA application_id").fetchone()[0]
        return found
    finally:
        conn.close()


def earlier_version_store(path: Path, stamps: list[float]) -> None:
    """Write a store as versions before the mark did: our schema, format 1, no application_id."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(_SCHEMA)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA user_version = 1")
    for n, at in enumerate(stamps):
        conn.execute("INSERT INTO units VALUES (?, ?, ?, 0, ?)", (SCOPE, f"t{n}", at, at + 2e5))
    conn.close()


# -- Q4: whose file it is -------------------------------------------------------------------


def someone_elses_database(path: Path) -> bytes:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount REAL)")
    conn.execute("INSERT INTO invoices VALUES (1, 9.5)")
    conn.commit()
    conn.close()
    return path.read_bytes()


async def test_another_programs_database_is_refused_and_left_untouched(
    mock: aioresponses, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Regression: the store switched it to WAL, added its three tables and set user_version.
    mock.get(SEARCH, payload=[], repeat=True)
    path = tmp_path / "app.db"
    before = someone_elses_database(path)
    caplog.set_level(logging.WARNING, logger="lacale_async")
    async with client(FakeClock(), path) as c:
        await c.search("x")
        assert (await c.quota()).store.startswith("memory")
    assert path.read_bytes() == before
    assert names_in(tmp_path) == ["app.db"]  # no -wal, no -shm
    warnings = warnings_of(caplog)
    assert len(warnings) == 1
    assert "not a quota store" in warnings[0]


@pytest.mark.parametrize("mark", [0x4C435754, 7])  # a watch state's mark, anyone's
def test_a_file_marked_by_another_program_is_refused(tmp_path: Path, mark: int) -> None:
    path = tmp_path / "marked.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA application_id = {mark}")
    conn.close()
    with pytest.raises(sqlite3.DatabaseError, match="not a quota store"):
        StoreFile(path)
    assert application_id(path) == mark


def test_an_unmarked_file_with_our_tables_and_one_more_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "mixed.db"
    earlier_version_store(path, [])
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.close()
    with pytest.raises(sqlite3.DatabaseError, match="not a quota store"):
        StoreFile(path)
    assert application_id(path) == 0


async def test_a_store_of_an_earlier_version_is_adopted_and_marked(
    mock: aioresponses, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    mock.get(SEARCH, payload=[], repeat=True)
    clock = FakeClock()
    path = tmp_path / "q.sqlite3"
    earlier_version_store(path, [clock.wall() - 60.0, clock.wall() - 30.0])
    caplog.set_level(logging.WARNING, logger="lacale_async")
    async with client(clock, path) as c:
        quota = await c.quota()
        assert quota.store == str(path)
        assert quota.remaining == 1  # its two units still count (key_rate 3 a day)
    assert application_id(path) == QUOTA_MARK
    assert warnings_of(caplog) == []


@pytest.mark.parametrize("content", [b"", None])
def test_an_empty_or_new_file_is_marked(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "q.sqlite3"
    if content is not None:
        path.write_bytes(content)
    StoreFile(path)
    assert application_id(path) == QUOTA_MARK
    StoreFile(path)  # and recognised by its mark


def test_an_earlier_store_under_another_programs_lock_opens_without_waiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Marking is a write: under a lock it is left to the next open, never waited for.
    short_busy(monkeypatch)
    path = tmp_path / "q.sqlite3"
    earlier_version_store(path, [])
    with locked(path):
        StoreFile(path)
    assert application_id(path) == 0
    StoreFile(path)
    assert application_id(path) == QUOTA_MARK


# -- Q1: a store that can be read, but not written ------------------------------------------


def damage_an_index(path: Path) -> None:
    """Break one cell pointer of the expiry index: quick_check fails, the rows still read."""
    conn = sqlite3.connect(path)
    page = conn.execute(
        "SELECT rootpage FROM sqlite_master WHERE name = 'units_by_expiry'"
    ).fetchone()[0]
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    with path.open("r+b") as f:
        f.seek((page - 1) * size + 10)
        f.write(b"\xff\xff")
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA quick_check").fetchone()[0] != "ok"
    conn.close()


def unwritable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make read-write opens fail as on a read-only mount (root ignores file modes)."""
    from lacale_async import _store_file

    def refuse(*args: object, **kwargs: object) -> sqlite3.Connection:
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(_store_file, "open_database", refuse)


async def test_a_damaged_store_goes_on_from_the_units_it_still_holds(
    mock: aioresponses, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Regression: a failed integrity check gave a full budget, the rows being intact.
    mock.get(SEARCH, payload=[], repeat=True)
    clock = FakeClock()
    path = tmp_path / "q.sqlite3"
    earlier_version_store(path, [clock.wall() - 20.0, clock.wall() - 10.0])
    damage_an_index(path)
    before = path.read_bytes()
    caplog.set_level(logging.WARNING, logger="lacale_async")
    async with client(clock, path) as c:
        quota = await c.quota()
        assert quota.remaining == 1  # 2 of 3 spent, as the file says
        assert "could only be read" in quota.store
        await c.search("x")
        assert (await c.quota()).remaining == 0
    assert path.read_bytes() == before  # never written
    warnings = warnings_of(caplog)
    assert len(warnings) == 1
    assert "goes on from the 2 unit(s)" in warnings[0]
    assert "integrity check failed" in warnings[0]


@pytest.mark.parametrize("in_wal", [False, True])
async def test_an_unwritable_store_goes_on_from_its_units_and_pause(
    mock: aioresponses,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    in_wal: bool,
) -> None:
    # Regression: a read-only folder or a full disk gave a full budget.
    mock.get(SEARCH, payload=[], repeat=True)
    clock = FakeClock()
    path = tmp_path / "q.sqlite3"
    earlier_version_store(path, [clock.wall() - 5.0])
    # in_wal: another process still has the file open, its last writes only in the -wal.
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.execute("INSERT INTO units VALUES (?, 'live', ?, 1, ?)", (SCOPE, clock.wall() + 30, 9e9))
    writer.execute("INSERT INTO pauses VALUES (?, ?)", (SCOPE, clock.wall() + 600.0))
    if not in_wal:
        writer.close()
    before, names = path.read_bytes(), names_in(tmp_path)
    unwritable(monkeypatch)
    caplog.set_level(logging.WARNING, logger="lacale_async")
    async with client(clock, path) as c:
        quota = await c.quota()
        # One done, one in flight in another process (counted, as done at its lease end).
        assert quota.windows[0].used == 2
        assert quota.paused_until is not None  # the 429 pause is honoured too
    writer.close()
    if not in_wal:
        assert path.read_bytes() == before
        assert names_in(tmp_path) == names == ["q.sqlite3"]  # not even a -wal or -shm made
    [warning] = warnings_of(caplog)
    assert "goes on from the 2 unit(s)" in warning
    assert "429 pause until" in warning


async def test_an_existing_store_nothing_can_be_read_from_says_the_past_is_unknown(
    mock: aioresponses, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    mock.get(SEARCH, payload=[], repeat=True)
    path = tmp_path / "q.sqlite3"
    path.write_bytes(b"SQLite format 3\x00" + bytes(90))
    caplog.set_level(logging.WARNING, logger="lacale_async")
    async with client(FakeClock(), path) as c:
        assert (await c.quota()).remaining == 3
    [warning] = warnings_of(caplog)
    assert "is unknown and NOT counted" in warning
    assert "reading it failed too" in warning


async def test_the_memory_fallback_outlives_its_client(
    mock: aioresponses, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The file cannot record what this process spends: its memory is the only record, and a
    # script opening a new client per call must not start again from a full budget.
    mock.get(SEARCH, payload=[], repeat=True)
    clock = FakeClock()
    path = tmp_path / "folder.sqlite3"
    path.mkdir()
    caplog.set_level(logging.WARNING, logger="lacale_async")
    for query in ("a", "b"):
        async with client(clock, path) as c:
            await c.search(query)
        del c
        gc.collect()  # nothing but the SDK's own bookkeeping holds the ledger now
    async with client(clock, path) as c:
        assert (await c.quota()).remaining == 1
    assert len(warnings_of(caplog)) == 1
