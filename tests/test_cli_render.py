"""The search table at 60, 80 and 120 columns; meta JSON keys; the stats line."""

from __future__ import annotations

import io
import re
from datetime import datetime, timezone
from urllib.parse import quote

import msgspec
import pytest
from _cli import assert_no_window
from rich.console import Console

from lacale_async import Category, ClientStats, EndpointStats, Meta, Tag, TagGroup, Torrent
from lacale_async._cli._render import (
    meta_tree,
    short_hash,
    shown_link,
    snake_builtins,
    stats_line,
    torrent_dict,
    torrents_table,
)


def _torrent(i: int, title: str, category: str = "Séries TV") -> Torrent:
    return Torrent(
        title=title,
        guid=f"g{i}",
        size=(i + 1) * 1_234_567_890,
        pub_date=datetime(2025, 1, 2 + i, 10, 30, tzinfo=timezone.utc),
        link=f"https://t.test/{i}",
        category=category,
        seeders=1000 + i,
        leechers=i,
        info_hash=f"{i:02x}" * 20,
    )


ROWS = [
    _torrent(0, "Breaking.Bad.S01.VFF.1080p.BluRay.x264-LACALE"),
    _torrent(1, "Le Fabuleux Destin d'Amélie Poulain (2001) MULTi 2160p UHD BluRay HDR10 x265"),
    _torrent(2, "x" * 150, category="Systèmes d'exploitation et logiciels"),
    _torrent(3, "Court"),
]


def render(width: int, rows: list[Torrent] = ROWS) -> list[str]:
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None, force_terminal=False)
    console.print(torrents_table(rows))
    return out.getvalue().splitlines()


@pytest.mark.parametrize("width", [60, 80, 120])
def test_table_fits_and_every_hash_prefix_is_whole(width: int) -> None:
    lines = render(width)
    assert all(len(line) <= width for line in lines)
    text = "\n".join(lines)
    for t in ROWS:
        assert re.search(rf"(^|\s){short_hash(t.info_hash)}(\s|$)", text, re.M), (
            f"hash prefix cut at {width} columns"
        )
    assert "Title" in lines[0]
    assert "Hash" in lines[0]


def test_what_each_width_keeps() -> None:
    wide = render(120)[0].split()
    assert wide == ["Title", "Category", "Size", "S", "L", "Date", "Hash"]
    assert re.search(r"2025-01-02 \d\d:\d\d", "\n".join(render(120)))
    at80 = render(80)[0].split()
    assert at80 == ["Title", "Size", "S", "Date", "Hash"], "title keeps room at 80 columns"
    at60 = render(60)[0].split()
    assert at60 == ["Title", "Size", "S", "Hash"]


def test_long_titles_wrap_instead_of_pushing_columns_out() -> None:
    lines = render(80)
    assert sum("x" * 20 in line for line in lines) >= 4, "150 x's wrap over several lines"
    amelie = "\n".join(lines)
    assert "Amélie" in amelie
    assert "Poulain" in amelie


def test_long_category_is_cut_with_an_ellipsis_not_the_hash() -> None:
    lines = render(120)
    assert any("Systèmes d'…" in line for line in lines)


def test_no_results_and_hidden_rows_are_said() -> None:
    out = io.StringIO()
    console = Console(file=out, width=80, color_system=None)
    console.print(torrents_table([]))
    console.print(torrents_table(ROWS, title="q", limit=1))
    assert "no results" in out.getvalue()
    assert "3 more not shown" in out.getvalue()


def test_snake_builtins_follows_the_struct_field_names() -> None:
    value = Meta(
        categories=(Category(id="c", name="C", slug="c", children=(Category(id="d", name="D",
                    slug="d", parent_id="c"),)),),
        tag_groups=(TagGroup(id="g", name="G", tags=(Tag(id="t", name="T", slug="t"),)),),
    )  # fmt: skip
    data = snake_builtins(value)
    assert set(data) == {"categories", "tag_groups", "ungrouped_tags"}
    assert data["categories"][0]["children"][0]["parent_id"] == "c"
    assert data["tag_groups"][0]["tags"] == [{"id": "t", "name": "T", "slug": "t"}]


def _stats(wait: float) -> ClientStats:
    return ClientStats(
        endpoints={"search": EndpointStats(requests=10, limiter_wait=wait)}, cache_hits=2
    )


def test_stats_line_shows_wall_clock_wait_and_labels_the_sum() -> None:
    line = stats_line(_stats(67.3), waited=8.2, elapsed=10.4)
    assert "waited for the rate limit 8.2 s (67.3 s summed over calls)" in line
    assert "elapsed 10.4 s" in line
    assert "requests sent 10" in line
    bare = stats_line(_stats(3.0))
    assert "limiter wait 3.0 s summed over calls" in bare


def test_a_hostile_info_hash_reaches_the_terminal_cleaned() -> None:
    evil = "\x1b]0;PWN\x07\x1b[2J"
    assert "\x1b" not in short_hash(evil)
    assert "\x07" not in short_hash(evil)
    out = io.StringIO()
    row = msgspec.structs.replace(ROWS[0], info_hash=evil)
    Console(file=out, width=120, force_terminal=True).print(torrents_table([row]))
    assert "]0;PWN" not in out.getvalue()


def test_the_json_of_one_malformed_result_keeps_its_fields_with_a_null_magnet() -> None:
    bad = msgspec.structs.replace(ROWS[0], info_hash="not-a-hash")
    assert torrent_dict(bad)["magnet"] is None
    assert torrent_dict(bad)["info_hash"] == "not-a-hash"
    assert torrent_dict(ROWS[0])["magnet"].startswith("magnet:?xt=urn:btih:")


def test_the_json_link_shows_no_credential() -> None:
    keyed = msgspec.structs.replace(ROWS[0], link="https://t.test/dl/x?apikey=SECRET-KEY-42")
    assert torrent_dict(keyed)["link"] == "https://t.test/dl/x?apikey=***"


KEY = "lcsb_Odd+Key/With=Chars&0f9e8d7c"
QUOTED = quote(KEY, safe="")


def _printed(renderable: object) -> str:
    out = io.StringIO()
    Console(file=out, width=200, color_system=None, force_terminal=False).print(renderable)
    return out.getvalue()


def test_the_table_masks_a_key_in_titles_categories_and_hashes_not_the_users_caption() -> None:
    row = msgspec.structs.replace(
        ROWS[0], title=f"Film {KEY} {QUOTED}", category=QUOTED, info_hash=KEY
    )
    text = _printed(torrents_table([row], title=f"query {KEY}", secrets=(KEY,)))
    caption, rows = text.split("\n", 1)
    assert caption.strip() == f"query {KEY}", "the caption is the user's own query: kept"
    assert_no_window(rows, KEY)
    assert "Film *** ***" in rows
    assert rows.rstrip().endswith("***"), "the 12-character hash prefix is masked too"


def test_the_meta_tree_masks_a_key_in_every_label() -> None:
    meta = Meta(
        categories=(Category(id=KEY, name=f"Films {KEY}", slug=QUOTED),),
        tag_groups=(TagGroup(id="g", name=f"Group {QUOTED}", slug=KEY),),
        ungrouped_tags=(Tag(id="t", name=f"Tag {KEY}", slug="tag"),),
    )
    text = _printed(meta_tree(meta, (KEY,)))
    assert KEY not in text
    assert QUOTED not in text
    for label in ("Films ***", "Group ***", "Tag ***"):
        assert label in text


def test_a_link_with_the_raw_key_in_apikey_is_masked_whole_before_it_is_redacted() -> None:
    link = shown_link(f"https://t.test/dl?apikey={KEY}&x=1", (KEY,))
    assert link == "https://t.test/dl?apikey=***&x=1"
    assert_no_window(link, KEY)


def test_the_magnet_is_made_from_the_masked_title() -> None:
    row = msgspec.structs.replace(ROWS[0], title=f"Film {KEY} {QUOTED}")
    magnet = torrent_dict(row, (KEY,))["magnet"]
    assert_no_window(magnet, KEY)
    assert magnet.endswith("&dn=Film%20%2A%2A%2A%20%2A%2A%2A")
