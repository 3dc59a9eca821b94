"""The SDK's own SQLite files (``_sqlite``): created private, checked before being written."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from lacale_async._sqlite import describe_failure, open_database

SCHEMA = "CREATE TABLE IF NOT EXISTS t (x INTEGER);"


def test_a_new_file_is_private_in_wal_mode_with_its_schema(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "store.sqlite3"
    conn = open_database(path, schema=SCHEMA, version=3, make_parents=True)
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
        conn.execute("INSERT INTO t VALUES (1)")
    finally:
        conn.close()
    again = open_database(path, schema=SCHEMA, version=3)
    try:
        assert again.execute("SELECT x FROM t").fetchall() == [(1,)]
    finally:
        again.close()


def test_a_newer_format_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    open_database(path, schema=SCHEMA, version=5).close()
    with pytest.raises(sqlite3.DatabaseError, match="newer lacale-async"):
        open_database(path, schema=SCHEMA, version=4)
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone()[0] == 5
    check.close()


def test_with_an_application_id_someone_elses_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "theirs.sqlite3"
    theirs = sqlite3.connect(path)
    theirs.execute("CREATE TABLE notes (body TEXT)")
    theirs.commit()
    theirs.close()
    with pytest.raises(sqlite3.DatabaseError, match="not a watch state"):
        open_database(path, schema=SCHEMA, version=1, application_id=0x1234, kind="watch state")
    ours = path.with_name("ours.sqlite3")
    for _ in range(2):  # made, then recognised
        open_database(ours, schema=SCHEMA, version=1, application_id=0x1234).close()


def test_garbage_and_folders_are_refused(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"not a database at all" * 100)
    with pytest.raises(sqlite3.DatabaseError):
        open_database(garbage, schema=SCHEMA, version=1)
    with pytest.raises(IsADirectoryError):
        open_database(tmp_path, schema=SCHEMA, version=1)


def test_memory_databases_follow_the_same_rules() -> None:
    conn = open_database(None, schema=SCHEMA, version=2)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    conn.close()


def test_failures_are_described_for_people() -> None:
    assert describe_failure(PermissionError(13, "Permission denied")) == "Permission denied"
    assert describe_failure(sqlite3.DatabaseError("file is not a database")) == (
        "file is not a database"
    )
    assert describe_failure(OSError()) == "OSError"


def test_adopt_takes_an_unmarked_file_holding_only_what_the_schema_makes(tmp_path: Path) -> None:
    earlier = tmp_path / "earlier.sqlite3"
    open_database(earlier, schema=SCHEMA, version=1).close()  # written before the mark existed
    open_database(earlier, schema=SCHEMA, version=1, application_id=0x1234, adopt=True).close()
    check = sqlite3.connect(earlier)
    assert check.execute("PRAGMA application_id").fetchone()[0] == 0x1234
    check.execute("CREATE TABLE extra (y INTEGER)")
    check.execute("PRAGMA application_id = 0")
    check.commit()
    check.close()
    with pytest.raises(sqlite3.DatabaseError, match="not a watch state"):
        open_database(
            earlier, schema=SCHEMA, version=1, application_id=0x1234, adopt=True, kind="watch state"
        )
    # Without adopt, an unmarked file holding tables is someone else's, as before.
    plain = tmp_path / "plain.sqlite3"
    open_database(plain, schema=SCHEMA, version=1).close()
    with pytest.raises(sqlite3.DatabaseError):
        open_database(plain, schema=SCHEMA, version=1, application_id=0x1234)
