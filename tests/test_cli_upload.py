"""``lacale upload`` (``_cli._upload``): what to seed, said exactly, and failures after sending."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from _cli import ThreadedSandbox, error_lines, invoke, make_nfo, make_torrent

from lacale_async import LaCaleClient, UploadResult, apply_source_flag, parse_torrent
from lacale_async._cli._userdata import load_meta

pytest_plugins = ["_cli"]  # fixtures: remote, remote_args


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache per test: what the upload keeps for completion is seen afresh."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("LACALE_CACHE_DIR", str(folder))
    return folder


def _upload_args(remote_args: list[str], torrent: Path, *more: str) -> list[str]:
    nfo = make_nfo(torrent.parent)
    return [*remote_args, *more, "upload", str(torrent), "--category", "films", "--nfo", str(nfo)]


def _flagged_hash(torrent: Path) -> str:
    return apply_source_flag(torrent.read_bytes(), "set")[1].info_hash


def test_an_added_source_flag_without_a_saved_file_says_how_to_get_the_file_to_seed(
    tmp_path: Path, remote_args: list[str]
) -> None:
    path = make_torrent(tmp_path)
    original = parse_torrent(path.read_bytes()).info_hash
    uploaded = _flagged_hash(path)
    result = invoke(_upload_args(remote_args, path))
    assert result.exit_code == 0, result.stderr
    assert f"info hash: {uploaded}" in result.stdout
    assert "saved:" not in result.stdout
    assert result.stderr == (
        f"note: the 'lacale' source flag was added, so the info hash changed from {original}; "
        f"seed the uploaded file: lacale download {uploaded}\n"
    )


def test_an_added_source_flag_with_a_saved_file_says_to_seed_that_file(
    tmp_path: Path, remote_args: list[str]
) -> None:
    path = make_torrent(tmp_path)
    # A folder: the seed is named after the torrent's own name inside it.
    folder = tmp_path / "seeds"
    folder.mkdir()
    result = invoke([*_upload_args(remote_args, path), "--save-torrent", str(folder)])
    assert result.exit_code == 0, result.stderr
    saved = folder / "Mon.Film.2024.1080p.mkv.torrent"
    assert parse_torrent(saved.read_bytes()).info_hash == _flagged_hash(path)
    assert f"saved: {saved}" in result.stdout
    assert result.stderr.endswith(f"; seed {saved}\n")


def test_a_torrent_that_has_the_flag_is_uploaded_as_is_with_no_note(
    tmp_path: Path, remote: ThreadedSandbox, remote_args: list[str]
) -> None:
    path = make_torrent(tmp_path, source="lacale")
    result = invoke([*_upload_args(remote_args, path), "--title", "Mon Film (2024)"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0] == "uploaded: Mon Film (2024)"
    assert result.stderr == ""
    assert remote.server.uploads[-1].torrent == path.read_bytes()


def test_keep_uploads_a_torrent_without_the_flag_unchanged(
    tmp_path: Path, remote: ThreadedSandbox, remote_args: list[str]
) -> None:
    path = make_torrent(tmp_path)
    result = invoke([*_upload_args(remote_args, path, "--json"), "--source-policy", "keep"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["info_hash"] == parse_torrent(path.read_bytes()).info_hash
    assert data["source_flag_added"] is False
    assert remote.server.uploads[-1].torrent == path.read_bytes()


def test_json_names_the_saved_file_and_the_added_flag(
    tmp_path: Path, remote_args: list[str]
) -> None:
    path = make_torrent(tmp_path)
    seed = tmp_path / "seed.torrent"
    result = invoke([*_upload_args(remote_args, path, "--json"), "--save-torrent", str(seed)])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["saved_to"] == str(seed)
    assert data["source_flag_added"] is True
    assert data["info_hash"] == _flagged_hash(path) == parse_torrent(seed.read_bytes()).info_hash
    # The JSON says all the note would: a script gets no text to parse on stderr.
    assert result.stderr == ""


def test_a_seed_that_cannot_be_written_after_the_upload_says_it_succeeded_and_how_to_recover(
    tmp_path: Path,
    remote: ThreadedSandbox,
    remote_args: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def disk_full(*args: Any, **kw: Any) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("lacale_async._cli._upload.write_atomic", disk_full)
    path = make_torrent(tmp_path)
    seed = tmp_path / "seed.torrent"
    result = invoke([*_upload_args(remote_args, path), "--save-torrent", str(seed)])
    uploaded = _flagged_hash(path)
    assert result.exit_code == 1
    assert [u.info_hash for u in remote.server.uploads] == [uploaded]
    [line] = error_lines(result)
    assert line.startswith("error: the upload succeeded (http://127.0.0.1:")
    assert line.endswith(
        f"info hash {uploaded}) but {seed} could not be written: No space left on device; "
        f"get the file back with 'lacale download {uploaded}'"
    )
    assert not seed.exists()
    assert result.stdout == ""


def test_a_successful_upload_keeps_the_meta_it_fetched_without_asking_again(
    tmp_path: Path, remote: ThreadedSandbox, remote_args: list[str]
) -> None:
    assert load_meta() is None
    path = make_torrent(tmp_path)
    result = invoke([*_upload_args(remote_args, path), "--tag", "vostfr"])
    assert result.exit_code == 0, result.stderr
    kept = load_meta()
    assert kept is not None
    assert "vostfr" in {t.slug for t in kept.iter_tags()}
    assert [r.endpoint for r in remote.server.requests] == ["meta", "upload"]


def test_a_torrent_that_cannot_be_read_sends_nothing_and_keeps_no_meta(
    tmp_path: Path, remote: ThreadedSandbox, remote_args: list[str]
) -> None:
    junk = tmp_path / "junk.torrent"
    junk.write_bytes(b"d4:infoi1ee")
    result = invoke(_upload_args(remote_args, junk))
    assert result.exit_code == 4
    assert len(error_lines(result)) == 1
    assert remote.server.requests == []
    assert load_meta() is None


def test_ctrl_c_once_the_upload_went_out_names_the_hash_to_search_for(
    tmp_path: Path,
    remote: ThreadedSandbox,
    remote_args: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = LaCaleClient.upload

    async def sent_then_interrupted(self: LaCaleClient, **kw: Any) -> UploadResult:
        # The body reached the tracker; the user pressed Ctrl-C before the answer was read.
        await real(self, **kw)
        raise KeyboardInterrupt

    monkeypatch.setattr(LaCaleClient, "upload", sent_then_interrupted)
    path = make_torrent(tmp_path)
    result = invoke(_upload_args(remote_args, path))
    assert result.exit_code == 130
    uploaded = _flagged_hash(path)
    assert result.stderr == (
        "interrupted: the upload had started, so the tracker may or may not have recorded it: "
        f"search for info hash {uploaded} before uploading again\n"
    )
    assert [u.info_hash for u in remote.server.uploads] == [uploaded]


def test_an_upload_refused_before_meta_was_needed_sends_no_meta_request_to_keep_it(
    tmp_path: Path, remote: ThreadedSandbox, remote_args: list[str]
) -> None:
    path = make_torrent(tmp_path)
    result = invoke([*_upload_args(remote_args, path), "--tmdb-id", "not-digits"])
    assert result.exit_code == 4
    assert len(error_lines(result)) == 1
    assert remote.server.requests == []
    assert load_meta() is None


@pytest.mark.parametrize("name", [None, "seed.torrent"])
def test_a_seed_folder_that_cannot_be_written_is_refused_before_the_upload(
    tmp_path: Path,
    remote: ThreadedSandbox,
    remote_args: list[str],
    monkeypatch: pytest.MonkeyPatch,
    name: str | None,
) -> None:
    # Root ignores chmod: access() is what says "read-only" (a read-only mount included).
    path = make_torrent(tmp_path)
    folder = tmp_path / "seeds"
    folder.mkdir()
    real_access = os.access

    def access(where: Any, mode: int, **kw: Any) -> bool:
        writing = Path(where) == folder and mode & os.W_OK
        return not writing and real_access(where, mode, **kw)

    monkeypatch.setattr("os.access", access)
    target = folder / name if name else folder
    result = invoke([*_upload_args(remote_args, path), "--save-torrent", str(target)])
    assert result.exit_code == 12, result.stderr
    assert error_lines(result) == [f"error: cannot write into folder {folder}"]
    assert remote.server.uploads == []
    assert list(folder.iterdir()) == []
