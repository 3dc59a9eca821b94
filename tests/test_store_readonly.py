"""A quota store that can only be read (``_store_readonly``): the budget goes on from it."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
from test_quota_store import SPANS

from lacale_async import FakeClock, _store_readonly
from lacale_async._ledger import Grant
from lacale_async._sqlite import NotOurs
from lacale_async._store_file import StoreFile
from lacale_async._store_readonly import ReadOnlyLedger, readable, warn_unusable

REFUSED = sqlite3.OperationalError("unable to open database file")


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


async def a_store(path: Path, clock: FakeClock) -> None:
    """A real store holding one done unit of scope "s" and one of "t", and a pause of "s"."""
    file = StoreFile(path)
    await file.aclose()
    conn = sqlite3.connect(path)
    now = clock.wall()
    conn.execute("INSERT INTO units VALUES ('s', 'a', ?, 0, 9e9)", (now - 5.0,))
    conn.execute("INSERT INTO units VALUES ('t', 'b', ?, 0, 9e9)", (now - 5.0,))
    conn.execute("INSERT INTO pauses VALUES ('s', ?)", (now + 600.0,))
    conn.commit()
    conn.close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    drop_wal(path)


def drop_wal(path: Path) -> None:
    for extra in ("-wal", "-shm"):
        Path(f"{path}{extra}").unlink(missing_ok=True)


def names_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_only_an_existing_file_not_another_programs_is_readable(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    path.write_bytes(b"")
    assert readable(path, REFUSED)
    assert not readable(path, NotOurs("not ours"))
    assert not readable(tmp_path, REFUSED)
    assert not readable(tmp_path / "missing", REFUSED)
    assert not readable(tmp_path / "q\x00", REFUSED)


def test_an_unusable_path_is_warned_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="lacale_async")
    path = tmp_path / "q.sqlite3"
    warn_unusable(path, "no room")
    warn_unusable(path, "no room")
    [warning] = warnings_of(caplog)
    assert "no room" in warning
    assert "quota_store" in warning


async def test_a_readonly_ledger_seeds_its_own_scope_once_and_never_writes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    path = tmp_path / "q.sqlite3"
    await a_store(path, clock)
    before = path.read_bytes()
    reads: list[str] = []
    real = _store_readonly._read_back

    def counted(p: Path, scope: str) -> tuple[list[float], float]:
        reads.append(scope)
        return real(p, scope)

    monkeypatch.setattr(_store_readonly, "_read_back", counted)
    caplog.set_level(logging.WARNING, logger="lacale_async")
    ledger = ReadOnlyLedger(path, "s", clock.wall, REFUSED)
    usage = await ledger.usage(SPANS)
    assert usage.windows[0][0] == 1  # its own unit, not scope "t"'s
    assert usage.pause_until == clock.wall() + 600.0
    assert await ledger.pause(1.0)  # the file's pause is already running
    again = ReadOnlyLedger(path, "s", clock.wall, REFUSED)
    await again.usage(SPANS)
    assert reads == ["s", "s"]  # once per ledger, whatever is asked
    assert path.read_bytes() == before
    assert names_in(tmp_path) == ["q.sqlite3"]
    [warning] = warnings_of(caplog)  # once per path and scope
    assert "goes on from the 1 unit(s)" in warning
    assert "429 pause until" in warning


async def test_an_unreadable_file_starts_full_saying_reading_failed_too(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="lacale_async")
    clock = FakeClock()
    path = tmp_path / "q.sqlite3"
    path.write_bytes(b"not a database" * 100)
    ledger = ReadOnlyLedger(path, "s", clock.wall, REFUSED)
    assert isinstance(await ledger.take(SPANS, 40.0), Grant)
    [warning] = warnings_of(caplog)
    assert "reading it failed too" in warning


async def test_a_seed_failing_unexpectedly_warns_once_and_every_call_sees_the_same_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Once the read had ended, its error was never looked at: the first call raised it (or
    # not, by timing), and later ones went on from a full budget without a word.
    def broken(p: Path, scope: str) -> tuple[list[float], float]:
        raise RuntimeError("unexpected")

    monkeypatch.setattr(_store_readonly, "_read_back", broken)
    caplog.set_level(logging.WARNING, logger="lacale_async")
    clock = FakeClock()
    path = tmp_path / "q.sqlite3"
    path.write_bytes(b"")
    ledger = ReadOnlyLedger(path, "s", clock.wall, REFUSED)
    assert isinstance(await ledger.take(SPANS, 40.0), Grant)
    assert isinstance(await ledger.take(SPANS, 40.0), Grant)
    [warning] = warnings_of(caplog)
    assert "reading it failed too" in warning
    assert "unexpected" in warning
