"""The SQLite quota store under faults: damaged rows, unopenable paths, another process's lock.

A store that fails for good (damage) warns once and the budget goes on in memory; a store that
is only locked by another process is retried on later takes, and never stalls the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _mocked import SEARCH
from aioresponses import aioresponses
from conftest import API_KEY, BASE
from test_quota_store import SPANS, client, ledger_on, take_all

from lacale_async import FakeClock
from lacale_async import _sqlite as sqlite_module
from lacale_async._ledger import Grant, MemoryLedger
from lacale_async._quota_store import SqliteLedger, StoreFile, open_ledger
from lacale_async._stores import derive_scope

pytest_plugins = ["_mocked"]

SCOPE = derive_scope(API_KEY, BASE)


def store_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("lacale-quota-store")]


async def make_store(path: Path, clock: FakeClock) -> None:
    """Let the SDK create the store's schema, as a first run would."""
    async with client(clock, path) as c:
        await c.quota()


async def searching_store(mock: aioresponses, folder: Path) -> tuple[FakeClock, Path]:
    """A fresh store in ``folder`` and its clock, with searches answered empty."""
    mock.get(SEARCH, payload=[], repeat=True)
    clock = FakeClock()
    path = folder / "q.sqlite3"
    await make_store(path, clock)
    return clock, path


# -- F5: damaged rows, unopenable paths ---------------------------------------------------


@pytest.mark.parametrize(
    ("at", "expires"),
    [
        ("'abc'", "9e999"),  # text: SQLite's REAL affinity keeps what is not a number
        ("x'00'", "9e999"),  # a blob
        ("9e999", "9e999"),  # +inf: would hold one unit for ever
        ("1e300", "9e999"),  # finite, but no date: would overflow every date computed from it
        ("{now}", "'abc'"),  # a sound stamp whose expiry is text: never swept
    ],
)
async def test_a_damaged_row_is_a_store_failure_never_a_crash(
    mock: aioresponses,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    at: str,
    expires: str,
) -> None:
    # Regression: the row reached the in-memory mirror, and the answer of the request that had
    # already been sent was thrown away by a raw TypeError ('>' between str and float).
    clock, path = await searching_store(mock, tmp_path)
    with sqlite3.connect(path) as conn:
        conn.execute(
            f"INSERT INTO units VALUES (?, 'tok', {at.format(now=clock.wall())}, 0, {expires})",
            (SCOPE,),
        )
    conn.close()
    caplog.set_level(logging.WARNING, logger="lacale_async")
    async with client(clock, path) as c:
        assert await c.search("x") == []
        quota = await c.quota()
        assert quota.store.startswith("memory")
        assert quota.remaining == 2  # its own unit counted; the damaged row is not a unit
        assert await c.search("y") == []
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "damaged" in warnings[0]
    assert str(path) in warnings[0]


async def test_a_damaged_pause_is_a_store_failure(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "q.sqlite3"
    ledger = open_ledger(path, "s", clock.wall)
    assert isinstance(ledger, SqliteLedger)
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO pauses VALUES ('s', 'soon')")
    conn.close()
    assert isinstance(await ledger.take(SPANS, 40.0), Grant)
    assert ledger.where.startswith("memory")
    await ledger.aclose()


@pytest.mark.parametrize("name", ["q\x00.sqlite3", "\ud800.sqlite3"])
def test_a_path_the_os_cannot_take_is_the_documented_memory_fallback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    # Regression: ValueError (NUL) and UnicodeEncodeError (lone surrogate) escaped raw.
    caplog.set_level(logging.WARNING, logger="lacale_async")
    clock = FakeClock()
    ledger = open_ledger(tmp_path / name, "s", clock.wall)
    assert isinstance(ledger, MemoryLedger)
    assert "could not be opened" in ledger.where
    assert "cannot use the quota store" in caplog.text


# -- F6: another process's lock -----------------------------------------------------------


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold the store's write lock on another connection, as a sqlite3 shell or backup would."""
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


async def test_a_locked_store_never_stalls_the_event_loop(
    mock: aioresponses, tmp_path: Path
) -> None:
    # Regression: the take ran sqlite3 on the loop thread; every task froze for the busy
    # timeout (5 s), then the store was given up for the rest of the process.
    mock.get(SEARCH, payload=[], repeat=True)
    path = tmp_path / "q.sqlite3"
    async with client(FakeClock(), path) as c:
        await c.search("warm")
        with locked(path):
            task = asyncio.ensure_future(c.search("x"))
            started = time.perf_counter()
            for _ in range(20):
                await asyncio.sleep(0)
            stall = time.perf_counter() - started
        await task
        assert stall < 1.0
        quota = await c.quota()
        assert quota.store == str(path)  # the store is still shared
        assert quota.remaining == 1


def short_busy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_module, "BUSY_TIMEOUT", 0.02)


async def test_a_locked_store_is_transient_and_resynced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    short_busy(monkeypatch)
    caplog.set_level(logging.WARNING, logger="lacale_async")
    clock = FakeClock()
    path = tmp_path / "q.sqlite3"
    file = StoreFile(path)
    ours = SqliteLedger(file, "s", clock.wall, MemoryLedger(clock.wall))
    other = ledger_on(path, clock, "s")
    first = await ours.take(SPANS, 40.0)
    assert isinstance(first, Grant)
    with locked(path):
        # Locked: this take is decided from this process's record, the store stays in use.
        during = await ours.take(SPANS, 40.0)
        assert isinstance(during, Grant)
        await ours.give_back(during, counted=True)
        clock.advance(0.1)
        assert isinstance(await ours.take(SPANS, 40.0), Grant)  # still locked: no new warning
    assert not file.failed
    clock.advance(61.0)  # past the retry delay, and the minute window of the unit ended
    assert isinstance(await ours.take(SPANS, 40.0), Grant)  # the store again
    # Another process now sees every unit, the ones taken while the file was locked included
    # (three in flight count in the minute; four in the day).
    usage = await other.usage(SPANS)
    assert [used for used, _ in usage.windows] == [3, 4]
    assert ours.where == str(path)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "locked" in warnings[0]
    await ours.aclose()
    await other.aclose()


def test_a_locked_store_still_opens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Opening wrote its format number every time: under another program's lock it waited the
    # busy timeout on the event loop, then gave the store up for memory.
    short_busy(monkeypatch)
    path = tmp_path / "q.sqlite3"
    StoreFile(path)
    with locked(path):
        StoreFile(path)


async def test_a_take_cancelled_while_the_store_is_locked_loses_and_adds_nothing(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    path = tmp_path / "q.sqlite3"
    ledger = ledger_on(path, clock, "s")
    with locked(path):
        task = asyncio.ensure_future(ledger.take(SPANS, 40.0))
        for _ in range(5):
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    grants = await take_all(ledger, SPANS)
    assert len(grants) == 3  # the cancelled take holds no unit, in the store or the mirror
    assert ledger.where == str(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM units").fetchone()[0] == 3
    conn.close()
    await ledger.aclose()


async def test_an_end_while_the_store_is_locked_is_written_once_it_is_free(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    path = tmp_path / "q.sqlite3"
    ledger = ledger_on(path, clock, "s")
    grant = await ledger.take(SPANS, 40.0)
    assert isinstance(grant, Grant)
    with locked(path):
        # Queued for the worker, never awaited: the request that ends does not wait for it.
        await asyncio.wait_for(ledger.give_back(grant, counted=True), 1.0)
    await ledger.usage(SPANS)  # runs after the end in the store's one worker
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT live, at FROM units").fetchall() == [(0, clock.wall())]
    conn.close()
    await ledger.aclose()


async def test_an_end_the_lock_outlasts_is_written_by_the_next_take(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    short_busy(monkeypatch)
    clock = FakeClock()
    path = tmp_path / "q.sqlite3"
    ledger = ledger_on(path, clock, "s")
    grant = await ledger.take(SPANS, 40.0)
    assert isinstance(grant, Grant)
    ended = clock.wall()
    with locked(path):
        await ledger.give_back(grant, counted=True)
        await ledger.usage(SPANS)  # the end gave up on the lock meanwhile
    clock.advance(61.0)
    assert isinstance(await ledger.take(SPANS, 40.0), Grant)
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT live, at FROM units ORDER BY at").fetchall()
    conn.close()
    assert rows[0] == (0, ended)  # done when it ended, not at its lease end
    assert ledger.where == str(path)
    await ledger.aclose()


async def test_no_store_thread_outlives_the_clients(mock: aioresponses, tmp_path: Path) -> None:
    mock.get(SEARCH, payload=[], repeat=True)
    path = tmp_path / "q.sqlite3"
    clock = FakeClock()
    before = set(store_threads())
    async with client(clock, path) as a, client(clock, path) as b:
        await a.search("x")
        await b.search("y")
        assert len(set(store_threads()) - before) == 1  # one worker per file, any clients
    assert set(store_threads()) <= before
    async with client(clock, path) as c:  # a new client gets a new worker
        await c.search("z")
        assert (await c.quota()).remaining == 0
    assert set(store_threads()) <= before


# -- Q3: what the lock kept from the file, when the last client closes ----------------------


def unit_rows(path: Path) -> list[tuple[int, float]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT live, at FROM units ORDER BY at").fetchall()
    conn.close()
    return rows


async def test_units_spent_under_a_lock_are_written_when_the_last_client_closes(
    mock: aioresponses,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Regression: they stayed in this process's memory, and a process that made no request
    # after the lock went away (a CLI run, a cron job) took them away with it.
    short_busy(monkeypatch)
    clock, path = await searching_store(mock, tmp_path)
    caplog.set_level(logging.WARNING, logger="lacale_async")
    async with client(clock, path) as c:
        with locked(path):
            await c.search("x")
            await c.search("y")
        assert unit_rows(path) == []  # noted in memory only, so far
    assert [live for live, _ in unit_rows(path)] == [0, 0]
    async with client(clock, path) as later:  # the next run counts them
        assert (await later.quota()).remaining == 1
    assert [r.getMessage() for r in caplog.records if "NOT recorded" in r.getMessage()] == []


async def test_units_a_lock_still_keeps_out_at_close_are_counted_in_one_warning(
    mock: aioresponses,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    short_busy(monkeypatch)
    clock, path = await searching_store(mock, tmp_path)
    caplog.set_level(logging.WARNING, logger="lacale_async")
    before = set(store_threads())
    with locked(path):
        async with client(clock, path) as c:
            await c.search("x")
            await c.search("y")
    assert unit_rows(path) == []
    lost = [r.getMessage() for r in caplog.records if "NOT recorded" in r.getMessage()]
    assert len(lost) == 1
    assert "2 unit(s)" in lost[0]
    assert str(path) in lost[0]
    assert set(store_threads()) <= before  # the worker still ends with the last client


async def test_what_a_failed_store_missed_outlives_the_clients_of_the_process(
    mock: aioresponses, tmp_path: Path
) -> None:
    # Regression: once every client had closed, the next one read the file again and lost
    # the units spent after it failed (they were only in the failed ledger's memory).
    clock, path = await searching_store(mock, tmp_path)
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO units VALUES (?, 'tok', 'abc', 0, 9e999)", (SCOPE,))
    conn.close()
    async with client(clock, path) as c:
        await c.search("x")
        await c.search("y")
        assert (await c.quota()).remaining == 1
    gc.collect()
    async with client(clock, path) as later:
        assert (await later.quota()).remaining == 1


async def test_units_a_lock_kept_out_at_close_still_count_for_the_next_client(
    mock: aioresponses, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    short_busy(monkeypatch)
    clock, path = await searching_store(mock, tmp_path)
    with locked(path):
        async with client(clock, path) as c:
            await c.search("x")
            await c.search("y")
    gc.collect()
    async with client(clock, path) as later:
        assert (await later.quota()).remaining == 1
        await later.search("z")  # the file is free again: what was pending is written too
    assert len(unit_rows(path)) == 3
