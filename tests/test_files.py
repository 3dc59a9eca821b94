"""Tests for lacale_async._files: hostile names and where a download goes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lacale_async._errors import ValidationError
from lacale_async._files import check_path, prepare_download, resolve_destination, safe_filename

HOSTILE_NAMES = [
    ("../../etc/passwd", "passwd.torrent"),
    ("/etc/passwd", "passwd.torrent"),
    ("..\\..\\Windows\\System32\\evil.torrent", "evil.torrent"),
    ("C:\\Users\\x\\film.torrent", "film.torrent"),
    ("dir/..", "dir.torrent"),
    ("..", "download.torrent"),
    (".", "download.torrent"),
    ("", "download.torrent"),
    ("   ", "download.torrent"),
    ("/", "download.torrent"),
    ("a/b/", "b.torrent"),
    ("nul\x00byte.torrent", "nulbyte.torrent"),
    ("line\nbreak\r\ttab", "linebreaktab.torrent"),
    (".hidden", "hidden.torrent"),
    ("...torrent", "torrent.torrent"),
    (".torrent", "torrent.torrent"),
    ("CON", "_CON.torrent"),
    ("con.torrent", "_con.torrent"),
    ("lpt1.txt", "_lpt1.txt.torrent"),
    ("COM¹", "_COM¹.torrent"),
    ("Console", "Console.torrent"),
    ('a<b>c:d"e|f?g*h', "a_b_c_d_e_f_g_h.torrent"),
    ("trailing. . ", "trailing.torrent"),
    ("Film.2024.TORRENT", "Film.2024.torrent"),
    ("Film 2024 (Été) [1080p]", "Film 2024 (Été) [1080p].torrent"),
    ("evil\u202egpj.exe", "evilgpj.exe.torrent"),
    ("lone\udcffsurrogate", "lonesurrogate.torrent"),
    ("Ame\u0301lie", "Amélie.torrent"),
]


@pytest.mark.parametrize(("name", "expected"), HOSTILE_NAMES)
def test_safe_filename_table(name: str, expected: str) -> None:
    assert safe_filename(name) == expected


@pytest.mark.parametrize("name", ["é" * 300, "a" * 1000, "x/" * 50 + "é" * 500 + ".torrent"])
def test_safe_filename_caps_length_on_a_character_boundary(name: str) -> None:
    result = safe_filename(name)
    assert len(result.encode("utf-8")) <= 200
    assert result.endswith(".torrent")
    result.encode("utf-8")  # no split character


def test_safe_filename_options() -> None:
    assert safe_filename("", default="torrent-42") == "torrent-42.torrent"
    assert safe_filename("../", default="../../x") == "x.torrent"
    assert safe_filename("report", suffix="") == "report"
    assert safe_filename("", suffix="") == "download"
    assert safe_filename("a.JSON", suffix=".json") == "a.json"
    for bad in ("torrent", ".", "./x", "/.torrent", ".a/b"):
        with pytest.raises(ValidationError):
            safe_filename("x", suffix=bad)


@pytest.mark.parametrize("name", [n for n, _ in HOSTILE_NAMES])
def test_safe_filename_is_always_one_plain_component(name: str) -> None:
    result = safe_filename(name)
    assert result
    assert "/" not in result
    assert "\\" not in result
    assert "\x00" not in result
    assert not result.startswith(".")
    assert Path(result).name == result


# resolve_destination


@pytest.mark.parametrize("name", [n for n, _ in HOSTILE_NAMES])
def test_resolve_destination_stays_in_the_folder(tmp_path: Path, name: str) -> None:
    dest = resolve_destination(tmp_path, name)
    assert dest.parent == tmp_path
    assert dest.resolve().parent == tmp_path.resolve()


def test_resolve_destination_directory_as_str(tmp_path: Path) -> None:
    assert resolve_destination(str(tmp_path), "a/b.torrent") == tmp_path / "b.torrent"


def test_resolve_destination_file_path(tmp_path: Path) -> None:
    target = tmp_path / "mine.torrent"
    assert resolve_destination(target, "../../ignored") == target
    existing = tmp_path / "existing.torrent"
    existing.write_bytes(b"x")
    assert resolve_destination(existing, "ignored") == existing


def test_resolve_destination_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="does not exist"):
        resolve_destination(tmp_path / "nope" / "file.torrent", "x")
    with pytest.raises(ValidationError) as missing:
        resolve_destination(f"{tmp_path}/nope/", "x")
    assert missing.value.reason == f"folder {tmp_path / 'nope'}{os.sep} does not exist"
    assert missing.value.option == "path_or_dir"  # a front end names its own way out
    assert missing.value.hint == "create it, or pass an existing folder"


def test_resolve_destination_under_a_file_says_it_is_no_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    for target in (blocker / "x.torrent", f"{blocker}{os.sep}"):
        with pytest.raises(ValidationError) as refused:
            resolve_destination(target, "x")
        assert str(refused.value) == f"{blocker} is not a folder; pass a path in an existing folder"
        assert refused.value.option is None
    assert blocker.read_text() == "x"


@pytest.mark.parametrize("what", ["destination", "torrent", "state"])
def test_an_empty_path_is_refused_not_read_as_the_current_folder(what: str) -> None:
    # Path("") is "."; an empty path is an unset setting ("--output $EMPTY"), never a choice
    # of the working folder.
    with pytest.raises(ValidationError, match=f"^{what} path is empty$"):
        check_path("", what)


class _Shifting(os.PathLike[str]):
    """A path-like that gives a good path once, then one holding a NUL."""

    def __init__(self, first: str) -> None:
        self.first = first
        self.calls = 0

    def __fspath__(self) -> str:
        self.calls += 1
        return self.first if self.calls == 1 else "bad\x00.torrent"


async def test_a_destination_path_like_is_read_once(tmp_path: Path) -> None:
    # What was checked is what is written: a second reading could name another file.
    shifting = _Shifting(str(tmp_path / "ok.torrent"))
    assert await prepare_download(shifting, False) == (tmp_path / "ok.torrent", False)
    assert shifting.calls == 1
