"""Text from the network never reaches the terminal with its control characters (issue 12)."""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from _cli import (
    CONTROL,
    EVIL,
    SANDBOX,
    ThreadedSandbox,
    add_torrent,
    args_of,
    assert_no_window,
    invoke,
    running,
)

from lacale_async._cli._sanitize import clean, json_text, shown
from lacale_async.testing import Fault, SandboxConfig

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
        ("Amélie 日本 \u200e", "Amélie 日本 "),  # a direction mark is invisible too
        ("\x1bcreset", "reset"),
        ("zero\u200bwidth\u200c\u200d\u2060\ufeff\u180e\u2061\u2064", "zerowidth"),
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
    invisible = json_text("a\u200bb\ufeffc")
    assert invisible == '"a\\u200bb\\ufeffc"'
    assert json.loads(invisible) == "a\u200bb\ufeffc"
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


# A key that URL-quoting changes: a title may hold it raw or as a link would spell it.
ODD_KEY = "lcsb_Odd+Key/With=Chars&0f9e8d7c"
ODD_QUOTED = quote(ODD_KEY, safe="")
KEYED_TITLE = f"Film {ODD_KEY} and {ODD_QUOTED} 1080p"


@pytest.fixture(scope="module")
def odd() -> Iterator[ThreadedSandbox]:
    yield from running(SandboxConfig(seed=0, api_key=ODD_KEY))


@pytest.fixture
def odd_args(odd: ThreadedSandbox) -> Iterator[list[str]]:
    yield from args_of(odd)


def assert_no_key(text: str) -> None:
    assert_no_window(text, ODD_KEY)


def test_a_key_split_by_zero_width_characters_is_still_masked() -> None:
    # On screen the key would read whole: the invisible characters go before masking.
    key = ODD_KEY
    assert shown(f"title {key[:6]}\u200b{key[6:]}\u2060 end", (key,)) == "title *** end"


@pytest.mark.parametrize("invisible", ["\u00ad", "\u061c", "\u200e", "\U000e0041", "\u2069"])
def test_a_key_split_by_any_format_character_is_still_masked(invisible: str) -> None:
    # A soft hyphen, an Arabic letter mark, a left-to-right mark, a tag, an isolate.
    key = ODD_KEY
    assert shown(f"title {key[:6]}{invisible}{key[6:]} end", (key,)) == "title *** end"


def test_every_format_character_of_this_python_is_dropped() -> None:
    # The ranges are written out (a scan at import would cost 0.3 s): pinned to unicodedata.
    every = [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cf"]
    assert every
    assert clean("".join(every)) == ""
    assert all(json_text(c).startswith('"\\u') for c in every)


def test_shown_cleans_then_masks_the_key_in_each_spelling() -> None:
    assert ODD_QUOTED != ODD_KEY
    assert shown(KEYED_TITLE, (ODD_KEY,)) == "Film *** and *** 1080p"
    # Masked after cleaning: a control character cannot split the key out of its mask.
    split = f"{ODD_KEY[:10]}\x1b[0m{ODD_KEY[10:]}!"
    assert shown(split, (ODD_KEY,)) == "***!"
    assert shown("a\x1b[2Jb\nc", ()) == "ab c", "without secrets it is clean()"
    assert shown("a\nb", (ODD_KEY,), multiline=True) == "a\nb"


def test_json_text_masks_the_key_in_every_string_value_and_stays_valid() -> None:
    value = {"title": KEYED_TITLE, "tags": [ODD_KEY], "n": None}
    text = json_text(value, secrets=(ODD_KEY,))
    assert_no_key(text)
    assert json.loads(text) == {"title": "Film *** and *** 1080p", "tags": ["***"], "n": None}
    assert json.loads(json_text(value)) == value, "without secrets the JSON is exact"


def test_json_text_keeps_field_names_and_the_users_own_fields() -> None:
    key = "hash0123" + "9f8e7d6c5b4a39281706"
    value = {"info_hash": 1, "hash0123xyz_field": 2, "query": key, "path": f"/d/{key}", "x": key}
    assert json.loads(json_text(value, secrets=(key,))) == {
        **value,
        "x": "***",
    }


def test_data_values_keep_an_ending_that_only_looks_like_the_keys_start() -> None:
    key = "2021beef" + "0" * 24
    info_hash = "a" * 36 + "2021"
    value = {"query": "dune 2021", "info_hash": info_hash, "guid": "guid-2021", "n": 3, "b": True}
    assert json.loads(json_text(value, secrets=(key,))) == value
    assert shown(f"error: cut at {key[:6]}", (key,)) == "error: cut at ***", "messages: full rule"


def test_a_key_echoed_in_a_title_is_masked_in_the_search_table_and_json(
    odd: ThreadedSandbox, odd_args: list[str]
) -> None:
    info_hash = add_torrent(odd, KEYED_TITLE)
    table = invoke([*odd_args, "search", "film"])
    assert table.exit_code == 0, table.stderr
    assert_no_key(table.stdout + table.stderr)
    assert "Film *** and *** 1080p" in table.stdout
    as_json = invoke([*odd_args, "--json", "search", "film"])
    assert as_json.exit_code == 0, as_json.stderr
    assert_no_key(as_json.stdout + as_json.stderr)
    titles = {t["info_hash"]: t["title"] for t in json.loads(as_json.stdout)}
    assert titles[info_hash] == "Film *** and *** 1080p"


def test_a_key_echoed_in_a_category_is_masked_in_the_table(
    odd: ThreadedSandbox, odd_args: list[str]
) -> None:
    body = [
        {
            "title": "Film Neutre",
            "guid": "g1",
            "size": 1,
            "pubDate": "2026-01-01T00:00:00.000Z",
            "link": "https://t.test/1",
            "category": ODD_QUOTED,
            "seeders": 1,
            "leechers": 0,
            "infoHash": "ab" * 20,
        }
    ]
    odd.add_fault(Fault.respond(200, json.dumps(body)), "search", times=2)
    table = invoke([*odd_args, "search", "film"])
    assert table.exit_code == 0, table.stderr
    assert_no_key(table.stdout + table.stderr)
    assert re.search(r"Film Neutre\s+\*\*\*\s", table.stdout)
    as_json = invoke([*odd_args, "--json", "search", "film"])
    assert_no_key(as_json.stdout + as_json.stderr)
    assert json.loads(as_json.stdout)[0]["category"] == "***"


def test_a_key_echoed_in_bulk_results_is_masked(odd: ThreadedSandbox, odd_args: list[str]) -> None:
    add_torrent(odd, KEYED_TITLE)
    table = invoke([*odd_args, "bulk", "-", "--top", "3"], input="film\n")
    assert_no_key(table.stdout + table.stderr)
    assert "Film *** and *** 1080p" in table.stdout
    lines = invoke([*odd_args, "--json", "bulk", "-"], input="film\n")
    assert_no_key(lines.stdout + lines.stderr)
    titles = [t["title"] for t in json.loads(lines.stdout)["results"]]
    assert "Film *** and *** 1080p" in titles


def test_a_key_echoed_in_the_meta_answer_is_masked_in_tree_and_json(
    odd: ThreadedSandbox, odd_args: list[str]
) -> None:
    body = {
        "categories": [{"id": "c1", "name": f"Films {ODD_KEY}", "slug": ODD_QUOTED, "children": []}]
    }
    odd.add_fault(Fault.respond(200, json.dumps(body)), "meta", times=2)
    for extra in ([], ["--json"]):
        result = invoke([*odd_args, *extra, "meta"])
        assert result.exit_code == 0, result.stderr
        assert_no_key(result.stdout + result.stderr)
        assert "Films ***" in result.stdout
