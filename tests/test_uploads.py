"""Preparing an upload without sending it: id shapes, reading files, slugs, the multipart form
(``_uploads``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from conftest import make_torrent

import lacale_async as la
from lacale_async._models import Category, Meta, Tag, TagGroup
from lacale_async._torrent import parse_torrent
from lacale_async._uploads import (
    MAX_NFO_SIZE,
    MAX_TORRENT_SIZE,
    UploadFields,
    UploadForm,
    looks_like_id,
    read_input,
    resolve_category,
    resolve_tag,
)

# Built here rather than decoded, so that what resolves to what is visible in the test.
META = Meta(
    categories=(
        Category(
            id="cat_video",
            name="Vidéo",
            slug="video",
            children=(
                Category(
                    id="cat_films",
                    name="Films",
                    slug="films",
                    children=(Category(id="cat_docs", name="Docs", slug="documentaires"),),
                ),
                # An id equal to another category's slug: ids win.
                Category(id="films", name="Films (old)", slug="films-old"),
            ),
        ),
        Category(id="cat_films_dup", name="Films bis", slug="films"),
    ),
    tag_groups=(
        TagGroup(
            id="tg_q", name="Qualité", tags=(Tag(id="tag_1080p", name="1080p", slug="1080p"),)
        ),
    ),
    ungrouped_tags=(Tag(id="tag_vostfr", name="VOSTFR", slug="vostfr"),),
)


def fields_of(form: aiohttp.FormData) -> list[tuple[str, Any, str | None, str | None]]:
    """``(name, value, filename, content type)`` of each part, in the order they are sent."""
    return [
        (opts["name"], value, opts.get("filename"), headers.get("Content-Type"))
        for opts, headers, value in form._fields
    ]


def check_fields(**over: Any) -> UploadFields:
    args: dict[str, Any] = {
        "title": "T",
        "category": "films",
        "tags": (),
        "description": None,
        "tmdb_id": None,
        "tmdb_type": None,
        "cover_url": None,
        "source_policy": None,
        "default_policy": "set",
    }
    args.update(over)
    return UploadFields.check(**args)


# -- looks_like_id ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "cmjoyv2cd00027eryreyk39gz",  # cuid, 25 characters
        "d5ghcmpsup7s73b5j080",  # xid, 20 characters of base32hex
        "71778794-4da9-43d3-8673-225fe726dc2a",  # UUID
        "71778794-4DA9-43D3-8673-225FE726DC2A",  # a UUID copied in capitals
    ],
)
def test_the_three_recorded_id_shapes_look_like_ids(value: str) -> None:
    assert looks_like_id(value)


@pytest.mark.parametrize(
    "value",
    [
        "1080p",
        "qualite-video",
        "documentaires",
        "",
        "d5q1080sup7s73c8bbb",  # 19 characters: one short of an xid
        "d5ghcmpsup7s73b5j08w",  # 'w' is not base32hex
        "cmjoyv2cd00027eryreyk39g",  # 24 characters: one short of a cuid
        "cmjoyv2cd00027eryreyk39gzz",  # 26
        "xmjoyv2cd00027eryreyk39gz",  # 25 characters, but a cuid starts with c
        "717787944da943d38673225fe726dc2a",  # a UUID without its dashes
        "71778794-4da9-43d3-8673-225fe726dc2g",  # 'g' is not hex
        " d5ghcmpsup7s73b5j080",  # the whole value must have the shape
        "d5ghcmpsup7s73b5j080\n",
    ],
)
def test_slugs_and_near_misses_do_not_look_like_ids(value: str) -> None:
    assert not looks_like_id(value)


# -- read_input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tail", "says"), [("", "torrent file not found: "), ("x" * 5000, "cannot read torrent file ")]
)
async def test_a_path_that_cannot_be_read_is_quoted_bounded_and_scrubbed(
    tail: str, says: str
) -> None:
    # A .torrent's text passed as a path by mistake: its announce URL holds a passkey, and
    # the whole file's text was quoted back.
    key = "k3y-0123456789abcdefXYZ"
    text = f"d8:announce80:https://tracker.test/announce?passkey={key}e4:infod{tail}"
    with pytest.raises(la.ValidationError) as caught:
        await read_input(text, "torrent", 10, lambda t: t.replace(key, "***"))
    message = str(caught.value)
    assert message.startswith(says + "'d8:announce80:https://tracker.test/announce?passkey=***")
    assert key[:8] not in message
    assert len(message) < 200


@pytest.mark.parametrize("value", [b"abc", bytearray(b"abc"), memoryview(b"abc")])
async def test_bytes_like_input_is_returned_as_bytes_up_to_the_limit(value: bytes) -> None:
    data = await read_input(value, "torrent", 3)
    assert type(data) is bytes
    assert data == b"abc"
    with pytest.raises(la.ValidationError, match=r"^nfo is 3 bytes, over the 2-byte limit$"):
        await read_input(value, "nfo", 2)


async def test_a_path_is_read_up_to_the_limit_and_refused_past_it_unread(tmp_path: Path) -> None:
    path = tmp_path / "x.torrent"
    path.write_bytes(b"0123456789")
    assert await read_input(path, "torrent", 10) == b"0123456789"
    assert await read_input(str(path), "torrent", 10) == b"0123456789"
    with pytest.raises(la.ValidationError, match=r"^nfo file '.*x\.torrent' is over 9 bytes$"):
        await read_input(path, "nfo", 9)


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc")
async def test_a_file_larger_than_its_stat_size_is_still_cut_at_the_limit() -> None:
    # /proc files are regular files whose stat() says 0 bytes: what a file that grew after
    # stat() looks like. Reading stops one byte past the limit.
    with pytest.raises(la.ValidationError, match=r"^nfo is 11 bytes, over the 10-byte limit$"):
        await read_input("/proc/self/status", "nfo", 10)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda p: p / "missing.torrent", r"^torrent file not found: '.*missing.torrent'$"),
        (lambda p: p, r"^torrent path is a folder: '.*'$"),
        (
            lambda p: p / "plain" / "child.torrent",  # a file used as a folder
            r"^cannot read torrent file '.*child.torrent': Not a directory$",
        ),
    ],
)
async def test_a_path_that_is_not_a_readable_file_is_refused(
    tmp_path: Path, make: Any, match: str
) -> None:
    (tmp_path / "plain").write_bytes(b"x")
    with pytest.raises(la.ValidationError, match=match):
        await read_input(make(tmp_path), "torrent", MAX_TORRENT_SIZE)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
async def test_a_fifo_is_refused_without_being_read(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.nfo"
    os.mkfifo(fifo)
    # A writer with data waiting: a read_input that wrongly opened the FIFO gets bytes and
    # fails the test, where with no writer its open() would block the test for ever.
    writer = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
    try:
        os.write(writer, b"x" * 100)
        with pytest.raises(la.ValidationError, match=r"^nfo path is not a regular file: '.*'$"):
            await read_input(fifo, "nfo", 10)
    finally:
        os.close(writer)


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (12, "^torrent must be bytes or a path, not int$"),
        (None, "^torrent must be bytes or a path, not NoneType$"),
        ("bad\x00.torrent", "^torrent path contains a NUL character$"),
    ],
)
async def test_what_is_neither_bytes_nor_a_usable_path_is_refused(value: Any, match: str) -> None:
    with pytest.raises(la.ValidationError, match=match):
        await read_input(value, "torrent", MAX_TORRENT_SIZE)


# -- resolve_category / resolve_tag -----------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("video", "cat_video"),
        ("cat_films", "cat_films"),
        ("documentaires", "cat_docs"),  # a third level is found too
        ("films", "films"),  # the id "films" wins over the two slugs "films"
        ("films-old", "films"),
    ],
)
def test_a_category_resolves_by_id_or_slug_to_its_id(given: str, expected: str) -> None:
    assert resolve_category(META, given) == expected


def test_the_first_category_with_a_slug_wins_when_no_id_matches() -> None:
    meta = Meta(
        categories=(
            Category(id="cat_b", name="B", slug="films"),
            Category(id="cat_a", name="A", slug="films"),
        )
    )
    assert resolve_category(meta, "films") == "cat_b"


def test_an_unknown_category_lists_the_known_slugs_sorted_once() -> None:
    with pytest.raises(la.ValidationError) as info:
        resolve_category(META, "nope")
    assert str(info.value) == (
        "unknown category 'nope'; known slugs: documentaires, films, films-old, video"
    )
    with pytest.raises(la.ValidationError, match=r"^unknown category 'x'; known slugs: \(none\)$"):
        resolve_category(Meta(), "x")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("1080p", "tag_1080p"),
        ("tag_vostfr", "tag_vostfr"),
        ("vostfr", "tag_vostfr"),
        # Absent from the meta but shaped like an id: the tracker judges it.
        ("d5ghcmpsup7s73b5j080", "d5ghcmpsup7s73b5j080"),
    ],
)
def test_a_tag_resolves_by_id_or_slug_or_is_trusted_when_id_shaped(
    given: str, expected: str
) -> None:
    assert resolve_tag(META, given) == expected


def test_an_unknown_tag_is_refused_pointing_at_meta_with_its_value_cut() -> None:
    with pytest.raises(la.ValidationError) as info:
        resolve_tag(META, "x" * 200)
    error = info.value
    assert error.option == "meta"
    assert error.reason == (
        f"unknown tag {'x' * 80!r}: neither a slug meta lists nor shaped like a tag id"
    )
    assert error.hint is not None
    assert "client.meta()" in error.hint
    assert str(error) == f"{error.reason}; {error.hint}"


# -- UploadFields.check ----------------------------------------------------------------------


def test_check_cleans_the_fields_and_takes_the_client_policy_by_default() -> None:
    fields = check_fields(
        title="  Le Film  ", tags=["1080p", "vostfr"], tmdb_id=603, default_policy="keep"
    )
    assert fields.title == "Le Film"
    assert fields.tags == ("1080p", "vostfr")
    assert fields.tmdb_id == "603"
    assert fields.source_policy == "keep"
    assert check_fields(source_policy="refuse", default_policy="keep").source_policy == "refuse"


@pytest.mark.parametrize(
    ("over", "match"),
    [
        ({"category": "  "}, "^category must be a category id or slug$"),
        ({"category": None}, "^category must be a category id or slug$"),
        ({"tags": "1080p"}, "^tags must be a sequence of ids or slugs, not the string '1080p'$"),
        ({"description": b"bytes"}, "^description must be a string, not bytes$"),
        ({"source_policy": "strip"}, "^source_policy must be 'set', 'refuse' or 'keep'"),
    ],
)
def test_check_refuses_a_field_the_tracker_would_refuse(over: dict[str, Any], match: str) -> None:
    with pytest.raises(la.ValidationError, match=match):
        check_fields(**over)


# Every field wrong, in the order the client lists them.
ALL_BAD: dict[str, Any] = {
    "title": "",
    "tmdb_id": "abc",
    "tmdb_type": "movie",
    "cover_url": "http://image.test/c.jpg",
    "category": "",
    "tags": "t",
    "description": 1,
    "source_policy": "x",
}


@pytest.mark.parametrize("first", list(ALL_BAD))
def test_check_reports_the_first_bad_field_in_the_client_order(first: str) -> None:
    names = list(ALL_BAD)
    later = {n: ALL_BAD[n] for n in names[names.index(first) :]}
    with pytest.raises(la.ValidationError) as info:
        check_fields(**later)
    assert str(info.value).startswith(f"{first} "), str(info.value)


# -- UploadFields.read and .form, and the UploadForm they make -------------------------------


async def test_read_applies_the_policy_and_reads_the_nfo(tmp_path: Path) -> None:
    unflagged = make_torrent("Le.Film", source=None)
    nfo = tmp_path / "film.nfo"
    nfo.write_bytes(b"NFO")
    data, info, nfo_bytes = await check_fields(default_policy="set").read(unflagged, nfo)
    assert info.source == "lacale"
    assert parse_torrent(data) == info
    assert nfo_bytes == b"NFO"
    kept, kept_info, no_nfo = await check_fields(default_policy="keep").read(unflagged, None)
    assert kept == unflagged
    assert kept_info.source is None
    assert no_nfo is None
    with pytest.raises(la.ValidationError, match="source"):
        await check_fields(default_policy="refuse").read(unflagged, None)


async def test_read_holds_the_torrent_and_the_nfo_to_their_size_limits(tmp_path: Path) -> None:
    assert (MAX_TORRENT_SIZE, MAX_NFO_SIZE) == (10 * 1024 * 1024, 1024 * 1024)
    fields = check_fields()
    with pytest.raises(la.ValidationError, match=f"^torrent is {MAX_TORRENT_SIZE + 1} bytes"):
        await fields.read(bytes(MAX_TORRENT_SIZE + 1), None)
    nfo = tmp_path / "big.nfo"
    nfo.write_bytes(bytes(MAX_NFO_SIZE + 1))
    with pytest.raises(la.ValidationError, match=f"is over {MAX_NFO_SIZE} bytes$"):
        await fields.read(make_torrent(), nfo)
    nfo.write_bytes(bytes(MAX_NFO_SIZE))
    assert (await fields.read(make_torrent(), nfo))[2] == bytes(MAX_NFO_SIZE)


async def test_form_resolves_slugs_and_names_the_file_after_the_torrent() -> None:
    fields = check_fields(
        title="Titre",
        category="documentaires",
        tags=["1080p", "d5ghcmpsup7s73b5j080"],
        description="Un film.",
        tmdb_id="603",
        tmdb_type="MOVIE",
        cover_url="https://image.test/c.jpg",
    )
    torrent, info, _ = await fields.read(make_torrent("../Le.Film.2024"), None)
    form = fields.form(META, torrent, info, b"NFO")
    assert form == UploadForm(
        title="Titre",
        category_id="cat_docs",
        torrent=torrent,
        filename="Le.Film.2024.torrent",  # never a directory part from the torrent's name
        tag_ids=("tag_1080p", "d5ghcmpsup7s73b5j080"),
        description="Un film.",
        tmdb_id="603",
        tmdb_type="MOVIE",
        cover_url="https://image.test/c.jpg",
        nfo=b"NFO",
    )


@pytest.mark.parametrize("name", ["", "..", " . "])
async def test_form_names_the_file_after_the_title_for_a_torrent_without_a_usable_name(
    name: str,
) -> None:
    # Regression: a name that cleans down to nothing ("..") gave "download.torrent".
    fields = check_fields(title="Mon Titre")
    torrent, info, _ = await fields.read(make_torrent(name), None)
    assert fields.form(META, torrent, info, None).filename == "Mon Titre.torrent"


def test_form_refuses_an_unknown_tag_before_any_form_exists() -> None:
    fields = check_fields(tags=["1080p", "nope"])
    torrent = make_torrent()
    with pytest.raises(la.ValidationError, match="unknown tag 'nope'"):
        fields.form(META, torrent, parse_torrent(torrent), None)


def test_each_call_builds_a_fresh_form_of_title_category_and_torrent_part() -> None:
    upload = UploadForm(title="T", category_id="cat", torrent=b"D", filename="f.torrent")
    form = upload()
    assert fields_of(form) == [
        ("title", "T", None, None),
        ("categoryId", "cat", None, None),
        ("file", b"D", "f.torrent", "application/x-bittorrent"),
    ]
    assert form._is_multipart
    # A FormData cannot be sent twice: a retry needs a body of its own.
    again = upload()
    assert again is not form
    assert fields_of(again) == fields_of(form)


def test_every_field_is_a_part_and_tags_repeat_instead_of_an_array() -> None:
    upload = UploadForm(
        title="T",
        category_id="cat",
        torrent=b"D",
        filename="Le.Film.torrent",
        tag_ids=("a", "b"),
        description="",  # empty but given: sent
        tmdb_id="603",
        tmdb_type="TV",
        cover_url="https://image.test/c.jpg",
        nfo=b"NFO",
    )
    parts = fields_of(upload())
    assert [(name, value) for name, value, _, _ in parts] == [
        ("title", "T"),
        ("categoryId", "cat"),
        ("file", b"D"),
        ("tags", "a"),
        ("tags", "b"),
        ("description", ""),
        ("tmdbId", "603"),
        ("tmdbType", "TV"),
        ("coverUrl", "https://image.test/c.jpg"),
        ("nfoFile", b"NFO"),
    ]
    _, _, nfo_name, nfo_type = parts[-1]
    assert nfo_type == "text/plain"
    # Regression: it was "Le.Film.torrent.nfo", the torrent's file name with .nfo added.
    assert nfo_name == "Le.Film.nfo"
