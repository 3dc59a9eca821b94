"""``lacale download``: hash prefixes from the last search, and folders given with a slash."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from _cli import SANDBOX, error_lines, invoke

from lacale_async import ValidationError, parse_torrent
from lacale_async._cli._hashes import resolve_hash
from lacale_async._cli._render import short_hash


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LACALE_CACHE_DIR", str(tmp_path / "cache"))


def _search(*words: str) -> list[dict[str, object]]:
    result = invoke([*SANDBOX, "--json", "search", *words])
    assert result.exit_code == 0, result.stderr
    items: list[dict[str, object]] = json.loads(result.stdout)
    return items


def test_the_prefix_shown_in_the_table_downloads(tmp_path: Path) -> None:
    first = _search("amelie")[0]
    table = invoke([*SANDBOX, "search", "amelie"])
    prefix = short_hash(str(first["info_hash"]))
    assert prefix in table.stdout
    result = invoke([*SANDBOX, "download", prefix.upper(), "-o", str(tmp_path)])
    assert result.exit_code == 0, result.stderr
    assert parse_torrent(Path(result.stdout.strip()).read_bytes()).info_hash == first["info_hash"]


def test_eight_characters_are_enough_and_json_names_the_whole_hash(tmp_path: Path) -> None:
    info_hash = str(_search("stromae")[0]["info_hash"])
    result = invoke([*SANDBOX, "--json", "download", info_hash[:8], "-o", str(tmp_path)])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["info_hash"] == info_hash


def test_bulk_results_count_as_the_last_search(tmp_path: Path) -> None:
    info_hash = str(_search("stromae")[0]["info_hash"])
    _search("amelie")  # replaces the last search
    assert invoke([*SANDBOX, "download", info_hash[:10], "-o", str(tmp_path)]).exit_code == 4
    assert invoke([*SANDBOX, "bulk", "-"], input="stromae\n").exit_code == 0
    assert invoke([*SANDBOX, "download", info_hash[:10], "-o", str(tmp_path)]).exit_code == 0


def test_prefix_errors_say_exactly_what_is_needed() -> None:
    short = invoke([*SANDBOX, "download", "abcd123"])
    assert short.exit_code == 4
    assert "at least 8" in short.stderr
    none = invoke([*SANDBOX, "download", "abcd1234"])
    assert none.exit_code == 4
    assert "run 'lacale search' first" in none.stderr
    _search("amelie")
    unknown = invoke([*SANDBOX, "download", "ffffffff0000"])
    assert unknown.exit_code == 4
    assert len(error_lines(unknown)) == 1
    assert "no result of the last search starts with 'ffffffff0000'" in unknown.stderr
    assert "40-character" in unknown.stderr


def test_ambiguous_prefix_lists_the_candidates() -> None:
    hashes = ["abcdef0123" + "0" * 30, "abcdef0199" + "1" * 30, "1234567890" + "2" * 30]
    with pytest.raises(ValidationError, match=r"starts 2 results .*give more characters"):
        resolve_hash("abcdef01", hashes)
    assert resolve_hash("ABCDEF0123", hashes) == hashes[0]
    whole = "F" * 40
    assert resolve_hash(whole, []) == whole, "a whole hash is never looked up"
    assert resolve_hash("not-hex", []) == "not-hex", "left to the SDK's own check"


def test_trailing_slash_creates_the_folder(tmp_path: Path) -> None:
    info_hash = str(_search("amelie")[0]["info_hash"])
    target = tmp_path / "torrents" / "new"
    result = invoke([*SANDBOX, "download", info_hash, "-o", f"{target}{os.sep}"])
    assert result.exit_code == 0, result.stderr
    saved = Path(result.stdout.strip())
    assert saved.parent == target
    # Without the slash, a missing folder is still a missing folder: no silent file name.
    file_target = tmp_path / "missing" / "x.torrent"
    refused = invoke([*SANDBOX, "download", info_hash, "-o", str(file_target)])
    assert refused.exit_code == 4
    assert not file_target.parent.exists()


def test_a_failed_download_removes_the_folders_it_created(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    result = invoke([*SANDBOX, "download", "0" * 40, "-o", f"{target}/"])
    assert result.exit_code == 6
    assert not (tmp_path / "a").exists()
    assert tmp_path.exists()


def test_a_folder_that_cannot_be_created_exits_12(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = invoke([*SANDBOX, "download", "0" * 40, "-o", f"{blocker}/sub/"])
    assert result.exit_code == 12
    assert len(error_lines(result)) == 1
    assert "cannot create folder" in result.stderr


def test_existing_file_hint_names_the_cli_option(tmp_path: Path) -> None:
    info_hash = str(_search("amelie")[0]["info_hash"])
    target = tmp_path / "x.torrent"
    target.write_bytes(b"old")
    refused = invoke([*SANDBOX, "download", info_hash, "-o", str(target)])
    assert refused.exit_code == 12
    assert "pass --overwrite to replace it" in refused.stderr
    assert "overwrite=True" not in refused.stderr


@pytest.mark.parametrize("parts", [("missing", "dir", "file.torrent"), ("nodir", "x.torrent")])
def test_a_file_path_in_a_missing_folder_is_one_line_with_the_way_out(
    tmp_path: Path, parts: tuple[str, ...]
) -> None:
    target = tmp_path.joinpath(*parts)
    result = invoke([*SANDBOX, "download", "0" * 40, "-o", str(target)])
    assert result.exit_code == 4  # bad input, as a bad hash: refused before any request
    (line,) = result.stderr.strip().splitlines()
    assert line == (
        f"error: folder {target.parent}{os.sep} does not exist; create it, or pass an existing "
        "folder (-o DIR/ with its trailing slash creates DIR and saves the torrent in it under "
        "its own name)"
    )
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_a_file_path_under_a_file_says_it_is_no_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    result = invoke([*SANDBOX, "download", "0" * 40, "-o", str(blocker / "x.torrent")])
    assert result.exit_code == 4
    (line,) = result.stderr.strip().splitlines()
    assert line == f"error: {blocker} is not a folder; pass a path in an existing folder"
    assert blocker.read_text() == "x"
