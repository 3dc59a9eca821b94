"""The quota store's crash journal: units a lock kept out survive the death of their process.

A process "dies" by being abandoned without ``aclose`` (its ledger and file garbage collected:
the OS would release its locks the same way), or for real, killed with SIGKILL. Two
``StoreFile`` objects on one path stand for two processes. The lock is a real one, another
connection's write transaction; the clock is a FakeClock.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from test_quota_store import SPANS, ledger_on
from test_quota_store_faults import locked, short_busy, unit_rows

from lacale_async import FakeClock
from lacale_async import _journal as journal_module
from lacale_async._journal import Journal, parse
from lacale_async._ledger import Grant, MemoryLedger
from lacale_async._quota_store import SqliteLedger, StoreFile

pytestmark = pytest.mark.skipif(not journal_module.LOCKS, reason="no fcntl: no journal")

WORKER = Path(__file__).with_name("journal_worker.py")


@pytest.fixture(autouse=True)
def _short_busy(monkeypatch: pytest.MonkeyPatch) -> None:
    short_busy(monkeypatch)


def journals(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + ".journal-*"))


async def spend_and_die(path: Path, clock: FakeClock, scope: str = "s") -> None:
    """In another "process": take three units under a lock (one ended), then die."""
    ledger = ledger_on(path, clock, scope)
    with locked(path):
        grants = [await ledger.take(SPANS, 40.0) for _ in range(3)]
        assert isinstance(grants[1], Grant)
        await ledger.give_back(grants[1], counted=True)
        await ledger.usage(SPANS)  # the end went through the worker (and met the lock)
    del ledger, grants
    for _ in range(3):  # the loop's last wake-ups of the shielded jobs let go of the ledger
        await asyncio.sleep(0)
    gc.collect()  # no aclose, no last write: what a crash leaves


def used(usage: object) -> list[int]:
    return [count for count, _ in usage.windows]  # type: ignore[attr-defined]


async def test_units_a_dead_process_spent_under_a_lock_count_for_the_next_one(
    tmp_path: Path,
) -> None:
    # Regression: they lived in the dead process's memory only; the next run got them back.
    clock = FakeClock()
    path = tmp_path / "q.sqlite3"
    await spend_and_die(path, clock)
    assert unit_rows(path) == []
    assert len(journals(path)) == 1
    later = ledger_on(path, clock, "s")
    assert used(await later.usage(SPANS)) == [3, 3]
    assert len(unit_rows(path)) == 3
    assert journals(path) == []  # replayed once, then deleted
    await later.aclose()


def test_a_process_killed_under_a_lock_leaves_its_units_to_the_next(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    StoreFile(path)  # the schema, as a first run makes it
    with locked(path):
        child = subprocess.Popen(
            [sys.executable, str(WORKER), str(path), "s", "3"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert child.stdout is not None
        assert child.stdout.readline() == b"spent\n"
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdin.close()  # type: ignore[union-attr]
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    assert unit_rows(path) == []
    clock = FakeClock(auto_advance=False)
    later = SqliteLedger(StoreFile(path), "s", clock.wall, MemoryLedger(clock.wall))
    usage = asyncio.run(later.usage(SPANS))
    assert used(usage) == [3, 3]  # two in flight, one ended: none given back
    assert sorted(live for live, _ in unit_rows(path)) == [0, 1, 1]
    assert journals(path) == []
    asyncio.run(later.aclose())


async def test_a_journal_replayed_twice_counts_its_units_once(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "q.sqlite3"
    await spend_and_die(path, clock)
    (journal,) = journals(path)
    copy = tmp_path / "copy"
    shutil.copy(journal, copy)
    first = ledger_on(path, clock, "s")
    assert used(await first.usage(SPANS)) == [3, 3]
    # The replaying process died between its commit and the delete: the journal is back.
    shutil.copy(copy, journal)
    second = ledger_on(path, clock, "s")
    assert used(await second.usage(SPANS)) == [3, 3]
    assert len(unit_rows(path)) == 3
    await first.aclose()
    await second.aclose()


async def test_a_live_process_journal_is_left_to_it_and_a_dead_ones_replayed(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    path = tmp_path / "q.sqlite3"
    alive = ledger_on(path, clock, "s")
    with locked(path):
        taken = await alive.take(SPANS, 40.0)
        assert isinstance(taken, Grant)
    await spend_and_die(path, clock)  # another scope would do too: the journal names it
    assert len(journals(path)) == 2
    other = ledger_on(path, clock, "s")
    # The dead one's three units, not the live one's (it is locked, the unit in its memory).
    assert used(await other.usage(SPANS)) == [3, 3]
    assert len(journals(path)) == 1
    clock.advance(6.0)  # past the retry delay: the live process writes its own unit
    await alive.give_back(taken, counted=True)
    await alive.usage(SPANS)  # after the end, in its worker
    assert used(await other.usage(SPANS)) == [4, 4]  # every unit, counted once
    assert journals(path) == []
    await alive.aclose()
    await other.aclose()


async def test_two_dead_processes_journals_are_replayed_in_one_go(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "q.sqlite3"
    await spend_and_die(path, clock, "s")
    await spend_and_die(path, clock, "t")
    assert len(journals(path)) == 2
    s = ledger_on(path, clock, "s")
    t = ledger_on(path, clock, "t")
    assert used(await s.usage(SPANS)) == [3, 3]
    assert used(await t.usage(SPANS)) == [3, 3]
    assert journals(path) == []
    await s.aclose()
    await t.aclose()


async def test_a_torn_journal_is_replayed_up_to_the_damage_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    path = tmp_path / "q.sqlite3"
    await spend_and_die(path, clock)
    (journal,) = journals(path)
    with journal.open("ab") as f:
        f.write(b"U s 00ff 12")  # a last write cut short
    caplog.set_level(logging.WARNING, logger="lacale_async")
    later = ledger_on(path, clock, "s")
    assert used(await later.usage(SPANS)) == [3, 3]
    assert used(await later.usage(SPANS)) == [3, 3]
    damaged = [r.getMessage() for r in caplog.records if "damaged" in r.getMessage()]
    assert len(damaged) == 1
    assert str(journal) in damaged[0]
    assert journals(path) == []
    await later.aclose()


def test_a_journal_is_read_up_to_its_first_bad_line() -> None:
    good = b"lacale-quota-journal 1\nU s a 5.0 1\nP s 9.5\nD s b\n"
    read = ({("s", "a"): (5.0, True), ("s", "b"): None}, {"s": 9.5})
    assert parse(good) == (*read, False)
    assert parse(good + b"U s c nan 0\nU s d 6.0 0\n") == (*read, True)
    assert parse(good + b"U s  5.0 0\n") == (*read, True)
    assert parse(good + b"U s c 5.0") == (*read, True)  # torn: no newline
    assert parse(b"something else\nU s a 5.0 1\n") is None  # not a journal: left alone
    assert parse(b"") == ({}, {}, False)  # its process died creating it


async def test_units_no_window_counts_any_more_are_dropped_at_replay(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "q.sqlite3"
    await spend_and_die(path, clock)
    clock.advance(3 * 86_400.0)  # longer than any window kept (two days)
    later = ledger_on(path, clock, "s")
    assert used(await later.usage(SPANS)) == [0, 0]
    assert unit_rows(path) == []
    assert journals(path) == []
    await later.aclose()


async def test_no_journal_is_left_once_the_store_is_free(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "q.sqlite3"
    ledger = ledger_on(path, clock, "s")
    assert isinstance(await ledger.take(SPANS, 40.0), Grant)
    assert journals(path) == []  # no lock, no journal
    with locked(path):
        assert isinstance(await ledger.take(SPANS, 40.0), Grant)
        assert len(journals(path)) == 1
    clock.advance(6.0)
    assert isinstance(await ledger.take(SPANS, 40.0), Grant)
    assert journals(path) == []
    assert len(unit_rows(path)) == 3
    await ledger.aclose()


async def test_a_journal_that_cannot_be_created_is_todays_behaviour_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As in a read-only folder (root ignores file modes, so the refusal is injected).
    def refuse(self: Journal, content: bytes) -> Path:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Journal, "_create", refuse)
    caplog.set_level(logging.WARNING, logger="lacale_async")
    clock = FakeClock()
    path = tmp_path / "q.sqlite3"
    ledger = ledger_on(path, clock, "s")
    with locked(path):
        for _ in range(2):
            assert isinstance(await ledger.take(SPANS, 40.0), Grant)
    warned = [r.getMessage() for r in caplog.records if "crash journal" in r.getMessage()]
    assert len(warned) == 1
    assert "Permission denied" in warned[0]
    assert journals(path) == []
    clock.advance(6.0)
    assert isinstance(await ledger.take(SPANS, 40.0), Grant)  # written once free, as before
    assert len(unit_rows(path)) == 3
    await ledger.aclose()


async def test_a_journal_partly_written_keeps_the_rest_for_the_next_process(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    path = tmp_path / "q.sqlite3"
    file = StoreFile(path)
    s = SqliteLedger(file, "s", clock.wall, MemoryLedger(clock.wall))
    t = SqliteLedger(file, "t", clock.wall, MemoryLedger(clock.wall))
    with locked(path):
        assert isinstance(await s.take(SPANS, 40.0), Grant)
        assert isinstance(await t.take(SPANS, 40.0), Grant)
    (first,) = journals(path)  # one journal per process and store, every scope in it
    clock.advance(6.0)
    assert isinstance(await s.take(SPANS, 40.0), Grant)  # writes s's unit, not t's
    (rest,) = journals(path)
    assert rest != first
    assert b" t " in rest.read_bytes()
    assert b" s " not in rest.read_bytes()
    del s, t, file
    for _ in range(3):
        await asyncio.sleep(0)
    gc.collect()
    later = ledger_on(path, clock, "t")
    assert used(await later.usage(SPANS)) == [1, 1]
    assert len(unit_rows(path)) == 3
    assert journals(path) == []
    await later.aclose()
