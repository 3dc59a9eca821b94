"""The quota store's open file and its worker thread (``_store_file``)."""

from __future__ import annotations

import logging
import sqlite3
import stat
from pathlib import Path

import pytest

from lacale_async._store_file import STORE_ERRORS, StoreDamaged, StoreFile, is_busy


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_damage_is_a_database_error_and_store_errors_cover_the_os_layer() -> None:
    assert issubclass(StoreDamaged, sqlite3.DatabaseError)
    assert set(STORE_ERRORS) == {sqlite3.Error, OSError, ValueError, TypeError}


def test_a_second_connections_lock_is_busy_and_plain_damage_is_not(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError) as caught:
            other.execute("INSERT INTO t VALUES (1)")
        assert is_busy(caught.value)
    finally:
        other.close()
        holder.execute("ROLLBACK")
        holder.close()
    assert not is_busy(sqlite3.DatabaseError("database disk image is malformed"))


async def test_a_new_file_is_private_in_a_made_folder_and_runs_jobs_in_order(
    tmp_path: Path,
) -> None:
    path = tmp_path / "deep" / "q.sqlite3"
    file = StoreFile(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    order: list[int] = []
    file.submit(lambda conn: order.append(1), "noting")

    def second(conn: sqlite3.Connection) -> int:
        order.append(2)
        return len(order)

    assert await file.run(second) == 2
    assert order == [1, 2]
    await file.aclose()
    await file.aclose()  # idempotent


async def test_a_failing_submitted_job_fails_the_file_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="lacale_async")
    path = tmp_path / "q.sqlite3"
    file = StoreFile(path)

    def busy(conn: sqlite3.Connection) -> None:
        raise sqlite3.OperationalError("database is locked")

    def damaged(conn: sqlite3.Connection) -> None:
        raise StoreDamaged("a text stamp")

    file.submit(busy, "writing a unit")
    await file.run(lambda conn: None)
    assert not file.failed  # a lock is transient
    file.submit(damaged, "writing a unit")
    file.submit(damaged, "writing another unit")
    await file.run(lambda conn: None)
    assert file.failed
    [warning] = warnings_of(caplog)
    assert str(path) in warning
    assert "while writing a unit (a text stamp)" in warning
    await file.aclose()


async def test_busy_warns_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="lacale_async")
    file = StoreFile(tmp_path / "q.sqlite3")
    exc = sqlite3.OperationalError("database is locked")
    file.busy(exc, "taking a unit", 30.0)
    file.busy(exc, "taking a unit", 30.0)
    [warning] = warnings_of(caplog)
    assert "locked by another program" in warning
    assert "tried again in 30 s" in warning
    await file.aclose()


class User:
    """A client's key budget, as far as the file knows (weakly referenced)."""


class StillLocked:
    """A tracked ledger whose last write finds the file still locked."""

    def unwritten(self) -> tuple[int, bool]:
        return 3, True

    def flush_job(self, conn: sqlite3.Connection) -> None:
        raise sqlite3.OperationalError("database is locked")


async def test_the_last_user_out_joins_the_worker_and_counts_what_is_unwritten(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="lacale_async")
    file = StoreFile(tmp_path / "q.sqlite3")
    ledger = StillLocked()
    file.track(ledger)
    a, b = User(), User()
    file.attach(a)
    file.attach(b)
    await file.detach(a)
    assert warnings_of(caplog) == []  # b still uses the file
    await file.detach(b)
    [warning] = warnings_of(caplog)
    assert "could still not be written" in warning
    assert "3 unit(s)" in warning
    assert "(and a 429 pause)" in warning


def test_a_file_of_a_newer_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA application_id = {0x4C435154}")  # ours, by its mark
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(sqlite3.DatabaseError, match="written by a newer"):
        StoreFile(path)
