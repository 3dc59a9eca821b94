"""Pending: what a locked store has not been told yet, and how a write settles it."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from lacale_async._journal import LOCKS, Journal, Row, parse
from lacale_async._pending import Pending

needs_locks = pytest.mark.skipif(not LOCKS, reason="no crash journal without fcntl (Windows)")


def journaled(path: Path) -> tuple[dict[tuple[str, str], Row], dict[str, float]]:
    """What a replay would read back from the journal at ``path``."""
    parsed = parse(path.read_bytes())
    assert parsed is not None
    units, pauses, damaged = parsed
    assert not damaged
    return units, pauses


def test_a_new_pending_holds_nothing() -> None:
    pending = Pending()
    assert not pending
    assert pending.unwritten() == (0, False)
    assert pending.snapshot() == ({}, -math.inf)


def test_units_taken_and_ended_are_counted_once_per_token() -> None:
    pending = Pending()
    pending.unit("a", 10.0, live=True)
    assert pending
    pending.unit("b", 11.0, live=True)
    pending.unit("a", 12.0, live=False)  # "a" ended: the same unit, its row updated
    assert pending.unwritten() == (2, False)
    assert pending.snapshot() == ({"a": (12.0, False), "b": (11.0, True)}, -math.inf)


def test_a_dropped_unit_is_pending_but_not_counted_as_unwritten() -> None:
    pending = Pending()
    pending.unit("a", 10.0, live=True)
    pending.drop("a")
    # Its row, if the store has one, must still go: pending, yet not a unit to record.
    assert pending
    assert pending.unwritten() == (0, False)
    assert pending.snapshot() == ({"a": None}, -math.inf)


def test_a_pause_only_moves_later() -> None:
    pending = Pending()
    pending.hold(30.0)
    assert pending
    pending.hold(20.0)
    assert pending.unwritten() == (0, True)
    assert pending.snapshot() == ({}, 30.0)
    pending.hold(40.0)
    assert pending.snapshot()[1] == 40.0


def test_a_snapshot_is_a_copy() -> None:
    pending = Pending()
    pending.unit("a", 10.0, live=True)
    units, _ = pending.snapshot()
    units["b"] = (1.0, False)
    del units["a"]
    assert pending.snapshot() == ({"a": (10.0, True)}, -math.inf)


def test_settling_what_was_written_empties_it() -> None:
    pending = Pending()
    pending.unit("a", 10.0, live=True)
    pending.drop("b")
    pending.hold(30.0)
    pending.settle(pending.snapshot())
    assert not pending
    assert pending.snapshot() == ({}, -math.inf)


def test_settling_keeps_what_changed_or_came_after_the_snapshot() -> None:
    pending = Pending()
    pending.unit("changed", 10.0, live=True)
    pending.unit("same", 11.0, live=True)
    pending.hold(30.0)
    written = pending.snapshot()
    # While the transaction ran: one unit ended, one was new, the pause grew.
    pending.unit("changed", 15.0, live=False)
    pending.unit("new", 16.0, live=True)
    pending.hold(60.0)
    pending.settle(written)
    assert pending.snapshot() == ({"changed": (15.0, False), "new": (16.0, True)}, 60.0)
    assert pending.unwritten() == (2, True)


def test_settling_an_unchanged_pause_keeps_the_units_noted_since() -> None:
    pending = Pending()
    pending.hold(30.0)
    written = pending.snapshot()
    pending.hold(10.0)  # earlier: the pause is unchanged, so the write covered it
    pending.drop("gone")
    pending.settle(written)
    assert pending.snapshot() == ({"gone": None}, -math.inf)


def test_settling_an_old_snapshot_twice_forgets_nothing_new() -> None:
    pending = Pending()
    pending.unit("a", 10.0, live=True)
    written = pending.snapshot()
    pending.settle(written)
    pending.unit("a", 12.0, live=False)
    pending.settle(written)  # a stale snapshot: its row for "a" is not the current one
    assert pending.snapshot() == ({"a": (12.0, False)}, -math.inf)


@needs_locks
def test_every_change_goes_to_the_journal_under_the_scope(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "quota.sqlite3")
    pending = Pending(journal, "scope1")
    assert journal.path is None  # nothing to keep yet: no file
    pending.unit("a", 10.0, live=True)
    pending.unit("b", 11.0, live=True)
    pending.drop("b")
    pending.hold(30.0)
    assert journal.path is not None
    assert journal.path.parent == tmp_path
    assert journaled(journal.path) == (
        {("scope1", "a"): (10.0, True), ("scope1", "b"): None},
        {"scope1": 30.0},
    )


@needs_locks
def test_settling_rewrites_the_journal_to_what_is_still_pending(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "quota.sqlite3")
    pending = Pending(journal, "s")
    pending.unit("a", 10.0, live=True)
    pending.hold(30.0)
    written = pending.snapshot()
    pending.unit("b", 12.0, live=True)
    first = journal.path
    pending.settle(written)
    assert journal.path is not None
    assert journal.path != first  # a new file, the old one deleted
    assert first is not None
    assert not first.exists()
    assert journaled(journal.path) == ({("s", "b"): (12.0, True)}, {})
    pending.settle(pending.snapshot())
    assert journal.path is None  # everything written: the journal is gone
    assert list(tmp_path.iterdir()) == []
