"""The watch's SQLite state: one transaction per round, bounded, an outbox, clear failures."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest

from lacale_async import StorageError, Torrent
from lacale_async._watch_state import LEASE, MAX_PER_QUERY, RETENTION, WatchState, release_id

DAY = 86_400.0
T0 = 1_767_225_600.0


def torrent(n: int, *, info_hash: str | None = None) -> Torrent:
    return Torrent(
        title=f"Release {n}",
        guid=f"guid{n:05d}",
        size=n,
        pub_date=datetime.fromtimestamp(T0 + n, timezone.utc),
        link=f"https://la-cale.space/torrents/{n}",
        category="Films",
        seeders=1,
        leechers=0,
        info_hash=f"{n:040x}" if info_hash is None else info_hash,
        download_link=f"https://la-cale.space/api/download/{n:040x}?token=SECRET{n}",
    )


def round_(state: WatchState, key: str, listed: list[Torrent], now: float) -> list[str]:
    """Run one round that queues every unseen release; return their titles."""
    with state.round(key, now) as step:
        fresh = step.unseen(listed)
        queued = step.record(listed, [] if step.baseline else fresh)
    return [p.torrent.title for p in queued]


def test_a_release_is_told_apart_by_its_hash_then_its_guid() -> None:
    assert release_id(torrent(1, info_hash="ABCDEF" + "0" * 34)) == "abcdef" + "0" * 34
    assert release_id(torrent(1, info_hash=" ")) == "guid:guid00001"


def test_the_first_round_is_a_baseline_and_later_rounds_find_the_new(tmp_path: Path) -> None:
    state = WatchState(tmp_path / "w.db")
    assert round_(state, "q", [torrent(1), torrent(2)], T0) == []
    assert round_(state, "q", [torrent(3), torrent(1), torrent(3)], T0 + 60) == ["Release 3"]
    assert round_(state, "other", [torrent(3)], T0 + 60) == []  # each query its own baseline


def test_a_round_that_raises_changes_nothing(tmp_path: Path) -> None:
    state = WatchState(tmp_path / "w.db")
    round_(state, "q", [], T0)

    def failing_round() -> None:
        with state.round("q", T0 + 60) as step:
            step.record([torrent(1)], step.unseen([torrent(1)]))
            raise ZeroDivisionError  # the caller's match() failing, say

    with pytest.raises(ZeroDivisionError):
        failing_round()
    assert round_(state, "q", [torrent(1)], T0 + 120) == ["Release 1"]
    assert state.pending(["q"])[0].torrent.title == "Release 1"


def test_not_listed_for_thirty_days_is_forgotten_still_listed_never(tmp_path: Path) -> None:
    state = WatchState(tmp_path / "w.db")
    round_(state, "q", [torrent(1), torrent(2)], T0)
    # Release 1 stays listed for two months; release 2 drops out of the answer.
    for day in range(1, 61):
        round_(state, "q", [torrent(1)], T0 + day * DAY)
    assert round_(state, "q", [torrent(1), torrent(2)], T0 + 61 * DAY) == ["Release 2"]


def test_at_most_the_newest_thousand_per_query(tmp_path: Path) -> None:
    state = WatchState(tmp_path / "w.db")
    round_(state, "q", [torrent(0)], T0)
    for batch in range(21):  # 50 a round, 1,050 in all
        listed = [torrent(1 + batch * 50 + i) for i in range(50)]
        round_(state, "q", listed, T0 + batch)
    count = state.conn.execute("SELECT count(*) FROM seen WHERE key = 'q'").fetchone()[0]
    assert count == MAX_PER_QUERY
    # The oldest listed are the ones that went.
    assert round_(state, "q", [torrent(0), torrent(1050)], T0 + 100) == ["Release 0"]


def test_a_query_not_polled_for_thirty_days_starts_a_new_baseline(tmp_path: Path) -> None:
    state = WatchState(tmp_path / "w.db")
    round_(state, "old", [torrent(1)], T0)
    round_(state, "other", [], T0 + RETENTION + 1)
    assert round_(state, "old", [torrent(2)], T0 + RETENTION + 2) == []


def test_a_watched_query_ages_by_its_own_rounds_only(tmp_path: Path) -> None:
    # "old" was stamped 40 days behind (a wall clock set back): another query of the same
    # watch, stamped by the corrected clock, must not forget its baseline, seen rows or outbox.
    state = WatchState(tmp_path / "w.db")
    watched = ("old", "other")
    for key, now in (("old", T0), ("other", T0), ("old", T0 + 60)):
        with state.round(key, now, watched) as step:
            step.record([torrent(1)], [(release_id(torrent(9)), torrent(9))] if now > T0 else [])
    with state.round("other", T0 + 40 * DAY, watched) as step:
        step.record([], [])
    assert [p.torrent.title for p in state.pending(["old"])] == ["Release 9"]
    with state.round("old", T0 + 40 * DAY + 60, watched) as step:
        assert not step.baseline
        assert step.unseen([torrent(1), torrent(2)]) == [(release_id(torrent(2)), torrent(2))]
    # Not watched any more: the same rows go at the next round of another query.
    with state.round("other", T0 + 40 * DAY + 120, ["other"]) as step:
        step.record([], [])
    assert state.pending(["old"]) == []
    with state.round("old", T0 + 40 * DAY + 180) as step:
        assert step.baseline


def test_the_outbox_survives_a_restart_and_is_handed_out_once(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    state = WatchState(path)
    round_(state, "q", [], T0)
    round_(state, "q", [torrent(1), torrent(2)], T0 + 60)
    state.close()
    one, two = WatchState(path), WatchState(path)  # two processes on one file
    items = one.pending(["q"])
    assert [p.torrent.title for p in items] == ["Release 1", "Release 2"]
    assert items[0].torrent.download_link is None  # the token never reached the file
    assert one.take(items[0], "one", T0 + 61)
    assert not two.take(items[0], "two", T0 + 61)  # leased: one is handing it out
    one.done(items[0])
    assert not two.take(items[0], "two", T0 + 62)  # gone
    assert [p.torrent.title for p in two.pending(["q"])] == ["Release 2"]
    assert two.pending(["elsewhere"]) == []


def test_a_lease_given_back_or_expired_frees_the_release(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    state = WatchState(path)
    round_(state, "q", [], T0)
    round_(state, "q", [torrent(1)], T0 + 60)
    other = WatchState(path)
    (item,) = state.pending(["q"])
    assert state.take(item, "one", T0 + 61)
    state.give_back(item, "one")  # a transient failure, an interruption
    assert [p.ident for p in other.pending(["q"])] == [item.ident]  # still in the outbox
    assert other.take(item, "two", T0 + 62)
    # "two" dies holding it: another watch may take it once the lease is over, not before.
    assert not state.take(item, "three", T0 + 62 + LEASE - 1)
    assert state.take(item, "three", T0 + 62 + LEASE)
    # A damaged lease counts as expired: a duplicate at worst, never a release stuck.
    state.conn.execute("UPDATE leases SET until = 'never'")
    assert other.take(item, "four", T0 + 63)


def test_done_leaves_no_lease_behind_and_the_prune_drops_orphans(tmp_path: Path) -> None:
    state = WatchState(tmp_path / "w.db")
    round_(state, "q", [], T0)
    round_(state, "q", [torrent(1), torrent(2)], T0 + 60)
    one, two = state.pending(["q"])
    assert state.take(one, "me", T0 + 61)
    assert state.take(two, "me", T0 + 61)
    state.done(one)
    state.conn.execute("DELETE FROM pending WHERE ident = ?", (two.ident,))  # another version
    round_(state, "q", [], T0 + 120)
    assert state.conn.execute("SELECT count(*) FROM leases").fetchone()[0] == 0


def test_the_file_is_private_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    state = WatchState(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert state.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_newer_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    WatchState(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(StorageError, match="newer lacale-async"):
        WatchState(path)


def test_a_folder_or_a_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="folder"):
        WatchState(tmp_path)
    with pytest.raises(StorageError, match="cannot be used"):
        WatchState(tmp_path / "missing" / "w.db")


def test_a_damaged_outbox_row_is_a_storage_error(tmp_path: Path) -> None:
    state = WatchState(tmp_path / "w.db")
    round_(state, "q", [], T0)
    round_(state, "q", [torrent(1)], T0 + 1)
    state.conn.execute("UPDATE pending SET torrent = x'00ff'")
    with pytest.raises(StorageError, match="reading what was not delivered"):
        state.pending(["q"])


def test_memory_state_follows_the_same_rules() -> None:
    state = WatchState(None)
    assert round_(state, "q", [torrent(1)], T0) == []
    assert round_(state, "q", [torrent(1), torrent(2)], T0 + 1) == ["Release 2"]
    assert state.where == "in memory"
    state.close()
    state.close()
    with pytest.raises(StorageError, match="closed"):
        state.pending(["q"])


DAMAGE = [
    pytest.param("yesterday", id="text"),
    pytest.param(1e300, id="huge"),
    pytest.param(b"\x00\x01", id="blob"),
    pytest.param(float("inf"), id="inf"),
    pytest.param(-1e10, id="before-1970"),
]


def outbox_of_two(path: Path) -> None:
    state = WatchState(path)
    round_(state, "q", [], T0)
    round_(state, "q", [torrent(1), torrent(2)], T0 + 60)
    state.close()


def damage(path: Path, sql: str, value: object) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(sql, (value,))
    conn.close()


@pytest.mark.parametrize("value", DAMAGE)
def test_a_damaged_outbox_time_is_a_storage_error_and_deletes_nothing(
    tmp_path: Path, value: object
) -> None:
    path = tmp_path / "w.db"
    outbox_of_two(path)
    damage(
        path, "UPDATE pending SET seen_at = ? WHERE ident = (SELECT min(ident) FROM pending)", value
    )
    with pytest.raises(StorageError, match="damaged: a row of its pending table") as caught:
        WatchState(path)
    assert "Move it away" in str(caught.value)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM pending").fetchone()[0] == 2
    conn.close()


def test_an_outbox_row_damaged_while_open_is_a_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    outbox_of_two(path)
    state = WatchState(path)
    state.conn.execute("UPDATE pending SET seen_at = 'yesterday'")
    with pytest.raises(StorageError, match="pending table"):
        state.pending(["q"])
    assert state.pending(["elsewhere"]) == []  # another query's rows are not read


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE seen SET first_seen = ?",
        "UPDATE seen SET last_seen = ?",
        "UPDATE queries SET last_round = ?",
    ],
)
@pytest.mark.parametrize("value", DAMAGE[:3])
def test_a_damaged_seen_or_queries_time_is_a_storage_error(
    tmp_path: Path, sql: str, value: object
) -> None:
    path = tmp_path / "w.db"
    outbox_of_two(path)
    damage(path, sql, value)
    table = sql.split()[1]
    with pytest.raises(StorageError, match=f"a row of its {table} table"):
        WatchState(path)
