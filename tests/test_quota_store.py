"""The SQLite quota store: shared by processes, one file for every scope, never a crash.

Two ``StoreFile`` objects on one path stand for two processes (each opens its own connection);
a real two-process run is in test_quota_integration.py.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aioresponses import aioresponses
from conftest import API_KEY, BASE

import lacale_async as la
from lacale_async import FakeClock, LaCaleClient
from lacale_async._ledger import Grant, MemoryLedger, Refusal, Span
from lacale_async._quota_store import SqliteLedger, StoreFile, open_ledger

SEARCH = re.compile(r"^https://tracker\.test/api/external(\?.*)?$")
DAY = 86_400.0
SPANS: list[Span] = [(3, 60.0, 60.25), (5, DAY, DAY + 0.25)]


@pytest.fixture
def mock() -> Iterator[aioresponses]:
    with aioresponses() as m:
        yield m


def ledger_on(path: Path, clock: FakeClock, scope: str = "s1") -> SqliteLedger:
    """A ledger on its own connection, as another process would have."""
    return SqliteLedger(StoreFile(path), scope, clock.wall, MemoryLedger(clock.wall))


async def take_all(ledger: SqliteLedger, spans: list[Span], lease: float = 40.0) -> list[Grant]:
    grants = []
    while isinstance(result := await ledger.take(spans, lease), Grant):
        grants.append(result)
    return grants


async def test_two_processes_on_one_store_never_exceed_the_budget(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "q.sqlite3"
    a, b = ledger_on(path, clock), ledger_on(path, clock)
    got_a = await take_all(a, SPANS)
    got_b = await take_all(b, SPANS)
    assert (len(got_a), len(got_b)) == (3, 0)  # in flight in a: they count for b as "now"
    refusal = await b.take(SPANS, 40.0)
    assert isinstance(refusal, Refusal)
    assert refusal.wait is None  # every unit of the minute window is in flight elsewhere
    assert refusal.poll is not None  # b cannot hear a's exits: it polls
    for grant in got_a:
        await a.give_back(grant, counted=True)
    await a.usage(SPANS)  # a's worker writes the ends queued before this read
    clock.advance(61.0)
    assert len(await take_all(b, SPANS)) == 2  # the day allows 5 in all
    usage = await a.usage(SPANS)
    assert [used for used, _ in usage.windows] == [2, 5]


async def test_a_unit_that_never_left_is_given_back(tmp_path: Path) -> None:
    clock = FakeClock()
    ledger = ledger_on(tmp_path / "q.sqlite3", clock)
    grants = await take_all(ledger, SPANS)
    for grant in grants:
        await ledger.give_back(grant, counted=False)
    assert len(await take_all(ledger, SPANS)) == 3


async def test_a_crashed_process_costs_its_units_until_their_lease_ends(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "q.sqlite3"
    crashed = ledger_on(path, clock)
    assert len(await take_all(crashed, SPANS, lease=40.0)) == 3  # never given back
    survivor = ledger_on(path, clock)
    clock.advance(39.0)
    assert await take_all(survivor, SPANS) == []
    # Past the lease the units count as done at the lease end: the minute frees 60 s later.
    clock.advance(2.0)
    assert await take_all(survivor, SPANS) == []
    clock.advance(60.0)
    assert len(await take_all(survivor, SPANS)) == 2


async def test_one_file_holds_every_scope_apart_and_forgets_old_rows(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "q.sqlite3"
    one, two = ledger_on(path, clock, "scope-1"), ledger_on(path, clock, "scope-2")
    for grant in await take_all(one, SPANS):
        await one.give_back(grant, counted=True)
    await one.usage(SPANS)  # its worker writes the ends queued before this read
    assert len(await take_all(two, SPANS)) == 3
    clock.advance(2 * DAY + 60.0)  # rows are kept two days at least (F8)
    await two.take(SPANS, 40.0)  # any write expires what no window can count any more
    with sqlite3.connect(path) as conn:
        scopes = {row[0] for row in conn.execute("SELECT scope FROM units")}
        assert scopes == {"scope-2"}
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert API_KEY not in str(conn.execute("SELECT * FROM units").fetchall())


async def test_a_pause_is_shared_and_persisted(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "q.sqlite3"
    a = ledger_on(path, clock)
    assert await a.pause(600.0) is False
    assert await a.pause(60.0) is True  # already paused; never shortened
    restarted = ledger_on(path, FakeClock(wall_start=clock.wall() + 100))
    refusal = await restarted.take(SPANS, 40.0)
    assert isinstance(refusal, Refusal)
    assert refusal.binding == -1
    assert refusal.wait == pytest.approx(500.0)


def client(clock: FakeClock, store: Path, **options: Any) -> LaCaleClient:
    return LaCaleClient(
        API_KEY,
        base_url=BASE,
        search_rate=None,
        cache_ttl=0,
        clock=clock,
        key_rate=(3, DAY),
        quota_store=store,
        **options,
    )


@pytest.mark.parametrize(
    "garbage", [b"not a database at all" * 100, b"SQLite format 3\x00" + bytes(90)]
)
async def test_a_corrupt_store_warns_once_and_keeps_the_budget_in_memory(
    mock: aioresponses, tmp_path: Path, caplog: pytest.LogCaptureFixture, garbage: bytes
) -> None:
    mock.get(SEARCH, payload=[], repeat=True)
    store = tmp_path / f"corrupt-{len(garbage)}.sqlite3"
    store.write_bytes(garbage)
    caplog.set_level(logging.WARNING, logger="lacale_async")
    clock = FakeClock()
    for _ in range(2):
        async with client(clock, store) as c:
            await c.search("x")
            quota = await c.quota()
            assert quota.store.startswith("memory")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert str(store) in warnings[0]
    assert "NOT counted" in warnings[0]  # says what falling back to memory means
    assert store.read_bytes() == garbage  # the user's file is left as it was


async def test_an_unwritable_store_warns_and_never_crashes(
    mock: aioresponses, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    mock.get(SEARCH, payload=[], repeat=True)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    caplog.set_level(logging.WARNING, logger="lacale_async")
    async with client(FakeClock(), blocker / "quota.sqlite3") as c:
        await c.search("x")
    assert "cannot use the quota store" in caplog.text


async def test_a_store_failing_later_goes_on_from_what_it_counted(
    mock: aioresponses, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    mock.get(SEARCH, payload=[], repeat=True)
    store = tmp_path / "q.sqlite3"
    clock = FakeClock()
    caplog.set_level(logging.WARNING, logger="lacale_async")
    async with client(clock, store) as earlier:
        await earlier.search("a")  # spent before this process "started"
    async with client(clock, store) as c:
        await c.search("b")
        ledger = c._require_open().budget._ledger  # type: ignore[union-attr]
        assert isinstance(ledger, SqliteLedger)
        with ledger._file.lock:  # never under a transaction of the worker
            ledger._file.conn.close()  # the disk goes away under the store
        await c.search("c")  # the third unit: the mirror knew of a and b
        with pytest.raises(la.QuotaExceededError):
            await c.search("d")  # never a silent full budget after a failure
        assert (await c.quota()).store.startswith("memory")
    assert "goes on in memory" in caplog.text
    assert caplog.text.count("quota store") == 1


def test_open_ledger_without_a_usable_file_is_a_memory_ledger(tmp_path: Path) -> None:
    clock = FakeClock()
    (tmp_path / "dir.sqlite3").mkdir()
    ledger = open_ledger(tmp_path / "dir.sqlite3", "s", clock.wall)
    assert isinstance(ledger, MemoryLedger)
    assert "could not be opened" in ledger.where


def test_a_store_of_a_newer_format_is_not_touched(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA application_id = 0x4C435154")  # "LCQT", as a newer version marks it
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(sqlite3.DatabaseError, match="newer"):
        StoreFile(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 99
        assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
    conn.close()


SHORT: list[Span] = [(50, 2.0, 2.25)]
HOUR: list[Span] = [(6, 3600.0, 3600.25)]


async def spend(ledger: SqliteLedger, spans: list[Span], count: int) -> None:
    for _ in range(count):
        grant = await ledger.take(spans, 40.0)
        assert isinstance(grant, Grant)
        await ledger.give_back(grant, counted=True)
    await ledger.usage(spans)  # the ends are written by the worker before this read


async def test_a_shorter_window_never_sweeps_rows_a_longer_one_counts(tmp_path: Path) -> None:
    # Regression: rows expired by the writer's own longest window, so a process on a 2 s
    # key_rate erased its requests from the hour (or day) of a process sharing the key.
    clock = FakeClock()
    path = tmp_path / "q.sqlite3"
    short, hourly = ledger_on(path, clock), ledger_on(path, clock)
    await spend(short, SHORT, 5)
    assert [u for u, _ in (await hourly.usage(HOUR)).windows] == [5]
    clock.advance(13.0)
    await spend(short, SHORT, 1)  # its take sweeps what no window still counts
    assert [u for u, _ in (await hourly.usage(HOUR)).windows] == [6]


async def test_rows_outlive_a_day_even_before_a_daily_user_shows_up(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "q.sqlite3"
    short = ledger_on(path, clock)
    await spend(short, SHORT, 3)
    clock.advance(DAY - 100.0)
    await spend(short, SHORT, 1)
    daily = ledger_on(path, clock)  # the bot with the default daily window starts now
    assert [u for u, _ in (await daily.usage(SPANS)).windows] == [1, 4]


async def test_a_window_longer_than_two_days_is_remembered_by_the_store(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "q.sqlite3"
    week: list[Span] = [(100, 7 * DAY, 7 * DAY + 0.25)]
    weekly, short = ledger_on(path, clock), ledger_on(path, clock)
    await spend(weekly, week, 1)  # a unit taken with its window records that window
    await spend(short, SHORT, 2)
    clock.advance(3 * DAY)
    await spend(short, SHORT, 1)
    assert [u for u, _ in (await weekly.usage(week)).windows] == [4]
