"""Tests for lacale_async._atomic: atomic, no-clobber, cancellable writes."""

from __future__ import annotations

import errno
import os
import stat
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
from _syncs import record_syncs_and_renames

from lacale_async._atomic import refuse_existing, replace_file, write_atomic
from lacale_async._errors import (
    DestinationExistsError,
    LaCaleError,
    StorageError,
    ValidationError,
)
from lacale_async._files import resolve_destination


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        await anyio.lowlevel.checkpoint()
        yield part


async def test_write_bytes(tmp_path: Path) -> None:
    dest = tmp_path / "a.torrent"
    assert await write_atomic(dest, b"d4:infodee") == dest
    assert dest.read_bytes() == b"d4:infodee"
    assert _listing(tmp_path) == ["a.torrent"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
async def test_written_file_is_private(tmp_path: Path) -> None:
    # A private tracker's .torrent holds the passkey: other users must not read it.
    dest = await write_atomic(tmp_path / "a.torrent", b"x")
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600


async def test_write_stream_batches_and_keeps_order(tmp_path: Path) -> None:
    parts = [bytes([i % 256]) * 1000 for i in range(700)]  # 700 KB in small chunks
    dest = await write_atomic(tmp_path / "big.bin", _chunks(*parts))
    assert dest.read_bytes() == b"".join(parts)
    assert _listing(tmp_path) == ["big.bin"]


async def test_empty_stream_writes_empty_file(tmp_path: Path) -> None:
    dest = await write_atomic(tmp_path / "e", _chunks())
    assert dest.read_bytes() == b""


async def test_existing_file_is_not_overwritten(tmp_path: Path) -> None:
    dest = tmp_path / "a.torrent"
    dest.write_bytes(b"original")
    consumed = []

    async def body() -> AsyncIterator[bytes]:
        consumed.append(True)
        yield b"new"

    with pytest.raises(DestinationExistsError) as caught:
        await write_atomic(dest, body())
    assert isinstance(caught.value, FileExistsError)
    assert isinstance(caught.value, LaCaleError)
    assert dest.read_bytes() == b"original"
    assert consumed == []  # refused before downloading anything
    assert _listing(tmp_path) == ["a.torrent"]


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks need privileges")
async def test_dangling_symlink_counts_as_existing(tmp_path: Path) -> None:
    dest = tmp_path / "link.torrent"
    dest.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(DestinationExistsError):
        await write_atomic(dest, b"x")
    assert not (tmp_path / "elsewhere").exists()


async def test_overwrite_replaces(tmp_path: Path) -> None:
    dest = tmp_path / "a.torrent"
    dest.write_bytes(b"original")
    await write_atomic(dest, _chunks(b"ne", b"w"), overwrite=True)
    assert dest.read_bytes() == b"new"
    assert _listing(tmp_path) == ["a.torrent"]


async def test_file_appearing_during_download_is_not_clobbered(tmp_path: Path) -> None:
    dest = tmp_path / "a.torrent"

    async def body() -> AsyncIterator[bytes]:
        yield b"ours"
        dest.write_bytes(b"theirs")  # another process wins the race
        yield b"!"

    with pytest.raises(DestinationExistsError):
        await write_atomic(dest, body())
    assert dest.read_bytes() == b"theirs"
    assert _listing(tmp_path) == ["a.torrent"]


async def test_failure_mid_stream_leaves_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "a.torrent"
    seen_temp: list[str] = []

    class BodyError(Exception):
        pass

    async def body() -> AsyncIterator[bytes]:
        yield b"x" * (600 * 1024)  # large enough to be flushed to the temp file
        seen_temp.extend(_listing(tmp_path))
        raise BodyError

    with pytest.raises(BodyError):
        await write_atomic(dest, body())
    assert len(seen_temp) == 1
    assert seen_temp[0].endswith(".part")
    assert seen_temp[0].startswith(".a.torrent.")
    assert _listing(tmp_path) == []


async def test_failure_with_overwrite_keeps_original(tmp_path: Path) -> None:
    dest = tmp_path / "a.torrent"
    dest.write_bytes(b"original")

    async def body() -> AsyncIterator[bytes]:
        yield b"partial"
        raise ConnectionResetError

    with pytest.raises(ConnectionResetError):
        await write_atomic(dest, body(), overwrite=True)
    assert dest.read_bytes() == b"original"
    assert _listing(tmp_path) == ["a.torrent"]


async def test_cancellation_leaves_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "a.torrent"
    started = anyio.Event()
    seen_temp: list[str] = []

    async def body() -> AsyncIterator[bytes]:
        yield b"x" * (600 * 1024)
        seen_temp.extend(_listing(tmp_path))
        started.set()
        await anyio.sleep_forever()
        yield b"never"

    async with anyio.create_task_group() as tg:
        tg.start_soon(write_atomic, dest, body())
        await started.wait()
        tg.cancel_scope.cancel()
    assert len(seen_temp) == 1
    assert _listing(tmp_path) == []


async def test_cancellation_with_overwrite_keeps_original(tmp_path: Path) -> None:
    dest = tmp_path / "a.torrent"
    dest.write_bytes(b"original")
    started = anyio.Event()

    async def body() -> AsyncIterator[bytes]:
        yield b"partial"
        started.set()
        await anyio.sleep_forever()
        yield b"never"

    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: write_atomic(dest, body(), overwrite=True))
        await started.wait()
        tg.cancel_scope.cancel()
    assert dest.read_bytes() == b"original"
    assert _listing(tmp_path) == ["a.torrent"]


async def test_non_bytes_chunk(tmp_path: Path) -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"ok"
        yield "text"  # type: ignore[misc]

    with pytest.raises(ValidationError, match="str"):
        await write_atomic(tmp_path / "a", body())
    assert _listing(tmp_path) == []


async def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="does not exist"):
        await write_atomic(tmp_path / "nope" / "a", b"x")
    assert _listing(tmp_path) == []


async def test_without_hard_links_falls_back_to_exclusive_create(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_link(src: object, dst: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_link)
    dest = tmp_path / "a.torrent"
    await write_atomic(dest, _chunks(b"abc"))
    assert dest.read_bytes() == b"abc"
    assert _listing(tmp_path) == ["a.torrent"]

    other = tmp_path / "b.torrent"

    async def racing() -> AsyncIterator[bytes]:
        yield b"ours"
        other.write_bytes(b"theirs")

    with pytest.raises(DestinationExistsError):
        await write_atomic(other, racing())
    assert other.read_bytes() == b"theirs"
    assert _listing(tmp_path) == ["a.torrent", "b.torrent"]


async def test_other_publish_errors_propagate_and_clean_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(src: object, dst: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "link", full_disk)
    with pytest.raises(OSError, match="No space") as caught:
        await write_atomic(tmp_path / "a", b"x")
    assert not isinstance(caught.value, DestinationExistsError)
    assert _listing(tmp_path) == []


async def test_write_with_resolved_hostile_name(tmp_path: Path) -> None:
    dest = resolve_destination(tmp_path, "../../../../tmp/evil")
    await write_atomic(dest, b"x")
    assert _listing(tmp_path) == ["evil.torrent"]


def test_refuse_existing_counts_a_dangling_symlink(tmp_path: Path) -> None:
    refuse_existing(tmp_path / "free", overwrite=False)
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "nowhere")
    with pytest.raises(DestinationExistsError, match="already exists"):
        refuse_existing(link, overwrite=False)
    refuse_existing(link, overwrite=True)


def test_replace_file_syncs_the_data_before_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "state.json"
    dest.write_bytes(b"old")
    steps = record_syncs_and_renames(monkeypatch)
    replace_file(dest, b"new")
    # A power cut after the rename must find the new bytes on disk, not an empty file.
    assert steps[:2] == ["fsync", "replace"]
    assert dest.read_bytes() == b"new"
    assert _listing(tmp_path) == ["state.json"]


def test_replace_file_that_fails_keeps_the_old_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "state.json"
    dest.write_bytes(b"old")

    def full_disk(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space"):
        replace_file(dest, b"new")
    assert dest.read_bytes() == b"old"
    assert _listing(tmp_path) == ["state.json"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
@pytest.mark.parametrize("through_link", [False, True])
async def test_overwrite_refuses_what_is_not_a_regular_file(
    tmp_path: Path, through_link: bool
) -> None:
    # The publishing rename would replace the node itself: --overwrite of a FIFO, or of
    # /dev/stdout (a link to a device), must not swap it for a plain file.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    dest = fifo
    if through_link:
        dest = tmp_path / "stdout"
        dest.symlink_to(fifo)
    with pytest.raises(StorageError, match="not a regular file"):
        await write_atomic(dest, b"d4:infodee", overwrite=True)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert dest.is_symlink() is through_link
    assert _listing(tmp_path) == sorted({"pipe", dest.name})


async def test_overwrite_still_replaces_a_link_to_a_file_and_a_dangling_link(
    tmp_path: Path,
) -> None:
    (tmp_path / "old").write_bytes(b"old")
    for name, target in (("to-file", "old"), ("dangling", "missing")):
        link = tmp_path / name
        link.symlink_to(tmp_path / target)
        await write_atomic(link, b"new", overwrite=True)
        assert not link.is_symlink()
        assert link.read_bytes() == b"new"
    assert (tmp_path / "old").read_bytes() == b"old"
