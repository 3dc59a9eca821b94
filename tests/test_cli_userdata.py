"""Tests for lacale_async._cli._userdata: what the command keeps between runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from _syncs import record_syncs_and_renames

from lacale_async._cli._userdata import load_hashes, load_meta, save_hashes, write_file


def test_write_file_syncs_before_it_replaces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps = record_syncs_and_renames(monkeypatch)
    path = tmp_path / "cache" / "last-search.json"
    assert write_file(path, b"[]")
    # Without the fsync, a crash soon after could leave the renamed file empty.
    assert steps[:2] == ["fsync", "replace"]
    assert path.read_bytes() == b"[]"
    assert sorted(p.name for p in path.parent.iterdir()) == ["last-search.json"]


def test_write_file_reports_a_refusal_instead_of_raising(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    assert write_file(blocker / "under-a-file.json", b"[]") is False


def test_a_cache_folder_with_no_home_is_no_cache_not_a_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LACALE_CACHE_DIR", "~no_such_user_zz/cache")
    save_hashes(["a" * 40])
    assert load_hashes() == []
    assert load_meta() is None
