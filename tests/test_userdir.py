"""Where the SDK keeps files between runs (``_userdir``): LACALE_CACHE_DIR, else platformdirs'."""

from __future__ import annotations

from pathlib import Path

import platformdirs
import pytest

import lacale_async as la
from lacale_async._userdir import user_cache_dir


def test_the_environment_names_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LACALE_CACHE_DIR", str(tmp_path / "state"))
    assert user_cache_dir() == tmp_path / "state"
    assert not (tmp_path / "state").exists()  # named, not created


def test_a_leading_tilde_is_the_home_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("LACALE_CACHE_DIR", "~/lacale")
    assert user_cache_dir() == tmp_path / "lacale"


@pytest.mark.parametrize("value", [None, ""])
def test_unset_or_empty_is_the_users_cache_folder(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("LACALE_CACHE_DIR", raising=False)
    else:
        monkeypatch.setenv("LACALE_CACHE_DIR", value)
    expected = platformdirs.user_cache_path("lacale-async", appauthor=False)
    assert user_cache_dir() == expected
    assert expected.name == "lacale-async"


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("~nosuchuser-lacale-test/x", "starts with a ~ that names no home folder"),
        ("bad\udcffname", "cannot be encoded"),
    ],
)
def test_a_folder_no_file_system_could_have_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, value: str, says: str
) -> None:
    monkeypatch.setenv("LACALE_CACHE_DIR", value)
    with pytest.raises(la.ConfigurationError, match=says) as refused:
        user_cache_dir()
    assert "LACALE_CACHE_DIR" in str(refused.value)
