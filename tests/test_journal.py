"""``_journal``: the crash journal's file, its lock, ``claim`` and ``parse``, used directly.

Real files in tmp_path and real ``flock`` locks. A ``Journal`` alive in this process holds its
lock as another process's would (``flock`` locks belong to an open file, not to a process);
the owner "dies" when its last reference goes and the finalizer closes its descriptor, or, for
a real second process, when a child exits. tests/test_quota_journal.py covers the journal end
to end through the store; these tests call the module's own names.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import logging
import math
import os
import re
import secrets
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lacale_async import _journal as journal_module
from lacale_async._journal import LOCKS, Claimed, Journal, claim, parse

pytestmark = pytest.mark.skipif(not LOCKS, reason="no fcntl: no journal")

HEADER = b"lacale-quota-journal 1\n"


def journals(store: Path) -> list[Path]:
    return sorted(store.parent.glob(store.name + ".journal-*"))


@contextlib.contextmanager
def full_disk(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every journal write fails as on a full disk (a real OSError), until the block ends."""

    def full(fd: int, data: bytes) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with monkeypatch.context() as patch:
        patch.setattr(journal_module, "_write", full)
        yield


def test_the_first_unit_creates_a_private_locked_journal_named_after_the_store(
    tmp_path: Path,
) -> None:
    store = tmp_path / "q.sqlite3"
    journal = Journal(store)
    assert journal.path is None
    assert journals(store) == []
    journal.unit("s", "00aa", (5.0, True))
    path = journal.path
    assert path is not None
    assert journals(store) == [path]
    assert re.fullmatch(r"q\.sqlite3\.journal-[0-9a-f]{16}", path.name)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == HEADER + b"U s 00aa 5.0 1\n"
    assert claim(store) == []  # locked: its owner is alive (here, this very process)


def test_a_drop_writes_nothing_until_a_journal_exists_then_is_appended(tmp_path: Path) -> None:
    store = tmp_path / "q.sqlite3"
    journal = Journal(store)
    journal.unit("s", "00aa", None)
    assert journal.path is None
    assert journals(store) == []
    journal.unit("s", "00bb", (7.25, False))
    journal.unit("s", "00bb", None)
    assert journal.path is not None
    assert journal.path.read_bytes() == HEADER + b"U s 00bb 7.25 0\nD s 00bb\n"


def test_pauses_are_appended_as_given_and_read_back_as_the_longest(tmp_path: Path) -> None:
    store = tmp_path / "q.sqlite3"
    journal = Journal(store)
    journal.pause("s", 90.5)
    journal.pause("s", 30.0)
    journal.pause("t", 12.0)
    assert journal.path is not None
    data = journal.path.read_bytes()
    assert data == HEADER + b"P s 90.5\nP s 30.0\nP t 12.0\n"
    assert parse(data) == ({}, {"s": 90.5, "t": 12.0}, False)


def test_settle_rewrites_to_what_is_pending_then_deletes_the_journal_once_nothing_is(
    tmp_path: Path,
) -> None:
    store = tmp_path / "q.sqlite3"
    journal = Journal(store)
    journal.unit("s", "00aa", (1.0, True))
    journal.unit("t", "00bb", (2.0, True))
    journal.unit("s", "00cc", (3.0, False))
    first = journal.path
    journal.settle("s", {"00cc": (3.0, False)}, -math.inf)  # 00aa is in the store now
    second = journal.path
    assert second is not None
    assert second != first
    assert journals(store) == [second]  # the new file first, then the old one deleted
    assert parse(second.read_bytes()) == (
        {("t", "00bb"): (2.0, True), ("s", "00cc"): (3.0, False)},
        {},
        False,
    )
    assert claim(store) == []  # the rewritten journal is locked as the first was
    journal.settle("s", {}, -math.inf)
    journal.settle("t", {}, -math.inf)
    assert journal.path is None
    assert journals(store) == []


def test_a_pending_pause_alone_keeps_the_journal_and_its_end_deletes_it(tmp_path: Path) -> None:
    store = tmp_path / "q.sqlite3"
    journal = Journal(store)
    journal.unit("s", "00aa", (1.0, True))
    journal.settle("s", {}, 50.0)  # the unit written, a 429 pause still pending
    assert journal.path is not None
    assert parse(journal.path.read_bytes()) == ({}, {"s": 50.0}, False)
    journal.settle("s", {}, -math.inf)
    assert journal.path is None
    assert journals(store) == []


def test_a_rewrite_that_cannot_create_its_file_keeps_appending_to_the_old_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every new name the one already taken: O_EXCL refuses it, a real OSError.
    monkeypatch.setattr(secrets, "token_hex", lambda n: "0123456789abcdef")
    store = tmp_path / "q.sqlite3"
    journal = Journal(store)
    journal.unit("s", "00aa", (1.0, True))
    journal.unit("s", "00bb", (2.0, True))
    old = journal.path
    journal.settle("s", {"00bb": (2.0, True)}, -math.inf)
    assert journal.path == old
    assert journals(store) == [old]
    journal.unit("s", "00cc", (3.0, True))
    assert old is not None
    assert parse(old.read_bytes()) == (
        # 00aa is still there: replaying it again counts nothing twice.
        {("s", "00aa"): (1.0, True), ("s", "00bb"): (2.0, True), ("s", "00cc"): (3.0, True)},
        {},
        False,
    )
    assert claim(store) == []  # and still locked


def test_a_journal_whose_append_failed_is_still_deleted_once_nothing_is_pending(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # The drop's line is lost to a full disk: left on disk, the journal would have the next
    # process count as spent a unit that never left.
    store = tmp_path / "q.sqlite3"
    caplog.set_level(logging.WARNING, logger="lacale_async")
    journal = Journal(store)
    journal.unit("s", "00aa", (1.0, True))
    with full_disk(monkeypatch):
        journal.unit("s", "00aa", None)
    assert len(caplog.records) == 1
    journal.settle("s", {}, -math.inf)
    assert journal.path is None
    assert journals(store) == []
    assert claim(store) == []


def test_a_journal_whose_append_failed_is_rewritten_whole_at_the_next_settle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "q.sqlite3"
    journal = Journal(store)
    journal.unit("s", "00aa", (1.0, True))
    with full_disk(monkeypatch):
        journal.unit("s", "00bb", (2.0, True))  # lost from the file, kept in memory
    journal.settle("s", {"00bb": (2.0, True)}, -math.inf)
    [path] = journals(store)
    assert parse(path.read_bytes()) == ({("s", "00bb"): (2.0, True)}, {}, False)
    # Whole again, the journal takes the next units as before.
    journal.unit("s", "00cc", (3.0, True))
    assert parse(path.read_bytes()) == (
        {("s", "00bb"): (2.0, True), ("s", "00cc"): (3.0, True)},
        {},
        False,
    )


def test_a_journal_that_cannot_be_created_warns_once_and_stays_off(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = tmp_path / "gone" / "q.sqlite3"  # a folder that does not exist: a real OSError
    caplog.set_level(logging.WARNING, logger="lacale_async")
    journal = Journal(store)
    journal.unit("s", "00aa", (1.0, True))
    journal.pause("s", 9.0)
    journal.unit("s", "00bb", (2.0, True))
    journal.settle("s", {"00bb": (2.0, True)}, -math.inf)
    assert journal.path is None
    assert not store.parent.exists()
    [record] = caplog.records
    message = record.getMessage()
    assert str(store) in message
    assert "crash journal cannot be written" in message
    assert "No such file or directory" in message
    assert "kept in its memory only" in message
    # Once the folder exists, the journal stays off: one decision, one warning, per process.
    store.parent.mkdir()
    journal.unit("s", "00cc", (3.0, True))
    assert journals(store) == []
    assert len(caplog.records) == 1


def test_a_gone_owners_journal_is_claimed_with_each_unit_once_at_its_last_change(
    tmp_path: Path,
) -> None:
    store = tmp_path / "q.sqlite3"
    journal = Journal(store)
    journal.unit("s", "00aa", (1.0, True))
    journal.unit("s", "00aa", (4.0, False))  # the same unit, ended: still one unit
    journal.unit("s", "00bb", (2.0, True))
    journal.unit("s", "00bb", None)  # never left
    journal.unit("t", "00aa", (3.0, True))  # the same token in another scope: another unit
    journal.pause("s", 60.0)
    path = journal.path
    del journal  # its owner gone as in a crash: no settle, the lock released by the close
    gc.collect()
    [found] = claim(store)
    assert isinstance(found, Claimed)
    assert found.path == path
    assert found.units == {
        ("s", "00aa"): (4.0, False),
        ("s", "00bb"): None,
        ("t", "00aa"): (3.0, True),
    }
    assert found.pauses == {"s": 60.0}
    assert found.damaged is False
    assert claim(store) == []  # locked by its claimant until released: never claimed twice
    found.release(delete=True)
    assert journals(store) == []
    assert claim(store) == []


def test_a_journal_released_without_delete_is_left_to_be_claimed_again(tmp_path: Path) -> None:
    # As after a replay that failed (the store locked): the journal waits for the next one.
    store = tmp_path / "q.sqlite3"
    journal = Journal(store)
    journal.unit("s", "00aa", (1.0, True))
    path = journal.path
    del journal  # its owner gone
    gc.collect()
    [first] = claim(store)
    first.release(delete=False)
    assert journals(store) == [path]
    [again] = claim(store)
    assert again.units == first.units
    again.release(delete=True)
    assert journals(store) == []


def test_a_torn_last_line_is_claimed_up_to_the_damage(tmp_path: Path) -> None:
    store = tmp_path / "q.sqlite3"
    journal = Journal(store)
    journal.unit("s", "00aa", (1.0, True))
    path = journal.path
    assert path is not None
    del journal  # its owner gone
    gc.collect()
    with path.open("ab") as f:
        f.write(b"U s 00bb 2.")  # a write cut short by the crash
    [found] = claim(store)
    assert found.units == {("s", "00aa"): (1.0, True)}
    assert found.damaged is True
    found.release(delete=True)


def test_claim_takes_only_journals_of_this_store_and_leaves_anything_else(
    tmp_path: Path,
) -> None:
    store = tmp_path / "q.sqlite3"
    content = HEADER + b"U s 00aa 1.0 1\n"
    mine = tmp_path / "q.sqlite3.journal-0123456789abcdef"
    empty = tmp_path / "q.sqlite3.journal-fedcba9876543210"  # its owner died creating it
    foreign = tmp_path / "q.sqlite3.journal-aaaaaaaaaaaaaaaa"  # the name, not the header
    others = [
        tmp_path / "q.sqlite3.journal-0123456789ABCDEF",  # not the hex the SDK writes
        tmp_path / "q.sqlite3.journal-0123456789abcde",  # 15 characters
        tmp_path / "q.sqlite3.journal-0123456789abcdef0",  # 17
        tmp_path / "other.sqlite3.journal-0123456789abcdef",  # another store's
        tmp_path / "q.sqlite3-journal",  # SQLite's own
    ]
    for path in [mine, *others]:
        path.write_bytes(content)
    empty.write_bytes(b"")
    foreign.write_bytes(b"something else\nU s 00aa 1.0 1\n")
    found = sorted(claim(store), key=lambda c: c.path.name)
    assert [(c.path, c.units, c.pauses, c.damaged) for c in found] == [
        (mine, {("s", "00aa"): (1.0, True)}, {}, False),
        (empty, {}, {}, False),
    ]
    for claimed in found:
        claimed.release(delete=True)
    # What is not a journal is neither deleted nor kept locked.
    assert sorted(tmp_path.iterdir()) == sorted([foreign, *others])
    assert claim(store) == []


def test_claim_in_a_missing_folder_finds_nothing(tmp_path: Path) -> None:
    assert claim(tmp_path / "missing" / "q.sqlite3") == []


def test_a_journal_is_left_while_its_process_lives_and_claimed_once_it_exits(
    tmp_path: Path,
) -> None:
    store = tmp_path / "q.sqlite3"
    owner = subprocess.Popen(
        [sys.executable, "-c", _OWNER, str(store)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert owner.stdin is not None
    assert owner.stdout is not None
    try:
        path = Path(owner.stdout.readline().decode().strip())
        assert journals(store) == [path]
        assert claim(store) == []  # another process's lock
    finally:
        owner.stdin.close()
        owner.wait()
        owner.stdout.close()
    assert owner.returncode == 0
    [found] = claim(store)  # its exit released the lock; the file stays, as after a crash
    assert found.path == path
    assert found.units == {("s", "00aa"): (1.5, True)}
    found.release(delete=True)


_OWNER = """
import sys
from pathlib import Path
from lacale_async import _journal as journal_module
from lacale_async._journal import Journal

journal = Journal(Path(sys.argv[1]))
journal.unit("s", "00aa", (1.5, True))
print(journal.path, flush=True)
sys.stdin.readline()
"""


@pytest.mark.parametrize(
    ("tail", "read", "damaged"),
    [
        (b"", {}, False),  # a journal with nothing in it yet
        (b"U s a 1e3 0\n", {("s", "a"): (1000.0, False)}, False),
        (b"U s a 5.0 1\nD s a\nU s a 6.0 0\n", {("s", "a"): (6.0, False)}, False),
        (b"U s a 5.0 1\nU s a 5.0 2\n", {("s", "a"): (5.0, True)}, True),  # live is 0 or 1
        (b"U s a 5.0 1\nU s b 1e11 0\n", {("s", "a"): (5.0, True)}, True),  # FAR away
        (b"U s a 5.0 1\nU s b -inf 0\n", {("s", "a"): (5.0, True)}, True),
        (b"U s a 5.0 1\nD s b extra\n", {("s", "a"): (5.0, True)}, True),
        (b"U s a 5.0 1\nX s b\n", {("s", "a"): (5.0, True)}, True),
        (b"U s a 5.0 1\n\nU s b 6.0 0\n", {("s", "a"): (5.0, True)}, True),  # empty line
        (b"U s a 5.0 1\nU s b\tc 6.0 0\n", {("s", "a"): (5.0, True)}, True),  # a tab
        (b"U s a 5.0 1\nD s b\r\n", {("s", "a"): (5.0, True)}, True),  # a CR
        # A byte outside ASCII is damage, not a unit under a garbled token or scope.
        (b"U s a 5.0 1\nU s b\xff 6.0 1\n", {("s", "a"): (5.0, True)}, True),
        (b"U s a 5.0 1\nD s\xe9 b\n", {("s", "a"): (5.0, True)}, True),
        # float() reads "1_000.5"; the SDK never writes one, so it is not a journal line.
        (b"U s a 5.0 1\nU s b 1_000.5 0\n", {("s", "a"): (5.0, True)}, True),
    ],
)
def test_parse_keeps_each_units_last_change_and_stops_at_the_first_bad_line(
    tail: bytes, read: dict[tuple[str, str], object], damaged: bool
) -> None:
    assert parse(HEADER + tail) == (read, {}, damaged)


def test_parse_reads_a_pause_as_its_longest_and_refuses_an_unbounded_one() -> None:
    assert parse(HEADER + b"P s 9.5\nP s 3.0\n") == ({}, {"s": 9.5}, False)
    assert parse(HEADER + b"P s 9.5\nP s inf\nP t 1.0\n") == ({}, {"s": 9.5}, True)
    assert parse(HEADER + b"P s\n") == ({}, {}, True)


def test_parse_of_a_header_cut_short_is_damaged_and_of_a_later_version_is_none() -> None:
    assert parse(b"lacale-quota-journal 1") == ({}, {}, True)
    assert parse(b"lacale-quota-journal 2\nU s a 5.0 1\n") is None
    assert parse(b"lacale-quota-journal") is None
