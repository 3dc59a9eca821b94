"""Text from the network never reaches the terminal with its control characters (issue 12)."""

from __future__ import annotations

import json

import pytest
from _cli import CONTROL, EVIL, SANDBOX, ThreadedSandbox, add_torrent, invoke

from lacale_async._cli._sanitize import clean, json_text
from lacale_async.testing import Fault

pytest_plugins = ["_cli"]  # fixtures: remote, remote_args


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain title", "plain title"),
        ("\x1b[2JCleared", "Cleared"),
        ("\x1b[1;31mred\x1b[0m", "red"),
        ("\x1b]0;window title\x07after", "after"),
        ("\x1b]8;;https://x.test\x1b\\link\x1b]8;;\x1b\\", "link"),
        ("\x1b]0;never terminated", ""),
        ("\x9b2Jc1 csi", "c1 csi"),
        ("\x9d0;c1 osc\x9cafter", "after"),
        ("bell\x07", "bell"),
        ("nul\x00del\x7fc1\x85", "nuldelc1"),
        ("a\tb\nc\r\n", "a b c "),
        ("\u202egnp.exe", "gnp.exe"),
        ("Amélie 日本 \u200e", "Amélie 日本 \u200e"),
        ("\x1bcreset", "reset"),
    ],
)
def test_clean_removes_controls_and_whole_escape_sequences(raw: str, shown: str) -> None:
    assert clean(raw) == shown
    assert not CONTROL.search(clean(raw))


def test_clean_keeps_newlines_and_tabs_when_asked() -> None:
    assert clean("line 1\n\tline 2\x1b[2J\r", multiline=True) == "line 1\n\tline 2"


def test_json_text_escapes_instead_of_stripping() -> None:
    value = {"title": EVIL, "n": 1}
    text = json_text(value)
    assert json.loads(text) == value, "the JSON still decodes to the exact string"
    assert not CONTROL.search(text)
    assert "\\u009b" in text
    assert "\\u202e" in text
    assert "Amélie" in json_text("Amélie"), "other text stays readable"
    assert json.loads(json_text(value, indent=2)) == value


@pytest.mark.parametrize("as_json", [False, True])
def test_server_error_text_is_cleaned_in_the_error_line(
    remote: ThreadedSandbox, remote_args: list[str], as_json: bool
) -> None:
    remote.add_fault(Fault.error(400, EVIL), "search")
    result = invoke([*remote_args, *(["--json"] if as_json else []), "search", "x"])
    assert result.exit_code == 4
    assert "EvilTitle" in result.stderr
    assert not CONTROL.search(result.stderr)
    assert "pwned" not in result.stderr
    assert result.stdout == ""


def test_uploader_title_is_cleaned_in_the_table_and_escaped_in_json(
    remote: ThreadedSandbox, remote_args: list[str]
) -> None:
    info_hash = add_torrent(remote, f"Film {EVIL} 1080p")
    table = invoke([*remote_args, "search", "film"])
    assert table.exit_code == 0, table.stderr
    assert info_hash[:12] in table.stdout
    assert "EvilTitle" in table.stdout
    assert not CONTROL.search(table.stdout)
    as_json = invoke([*remote_args, "--json", "search", "film"])
    assert not CONTROL.search(as_json.stdout)
    titles = {t["info_hash"]: t["title"] for t in json.loads(as_json.stdout)}
    assert titles[info_hash] == f"Film {EVIL} 1080p", "JSON keeps the exact title"


def test_bulk_output_is_cleaned(remote: ThreadedSandbox, remote_args: list[str]) -> None:
    add_torrent(remote, f"Film {EVIL}")
    remote.add_fault(Fault.error(400, EVIL), "search")
    result = invoke([*remote_args, "bulk", "-", "--top", "3"], input="film\nquery two\n")
    assert "EvilTitle" in result.stdout
    assert not CONTROL.search(result.stdout + result.stderr)
    lines = invoke([*remote_args, "--json", "bulk", "-"], input="film\n")
    assert not CONTROL.search(lines.stdout)
    assert any(EVIL in t["title"] for t in json.loads(lines.stdout)["results"])


def test_meta_tree_and_verbose_log_are_cleaned(
    remote: ThreadedSandbox, remote_args: list[str]
) -> None:
    body = {"categories": [{"id": "c1", "name": EVIL, "slug": "evil\x1b[2J", "children": []}]}
    remote.add_fault(Fault.respond(200, json.dumps(body)), "meta")
    result = invoke(["-v", *remote_args, "meta"])
    assert result.exit_code == 0, result.stderr
    assert "EvilTitle" in result.stdout
    assert not CONTROL.search(result.stdout + result.stderr)


def test_sandbox_notes_stay_plain() -> None:
    result = invoke([*SANDBOX[:1], "search", "amelie"])
    assert not CONTROL.search(result.stdout + result.stderr)
