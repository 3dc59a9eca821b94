"""The quota store's file itself: whose it is (Q4), and one that can be read but not written (Q1).

A file that is not a quota store is refused untouched; a file of an earlier version (unmarked,
the store's own tables only) is adopted and marked. A store that cannot be opened read-write
still gives the budget what it records: the memory fallback starts from its rows.
"""

from __future__ import annotations

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
