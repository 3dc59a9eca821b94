"""Decoding the live tracker's answers into the public structs, and keeping secrets out of reprs."""

from __future__ import annotations

import gc
import io
import logging
import pprint

import msgspec
import pytest
from _live_samples import LIVE_META, LIVE_SEARCH, make_jwt
from rich.console import Console

import lacale_async as la
from lacale_async._models import MAX_CATEGORY_DEPTH, decode_meta, decode_search, decode_upload


def test_live_search_items_decode_with_their_download_link() -> None:
    torrents = decode_search(msgspec.json.encode(LIVE_SEARCH))
    assert len(torrents) == 3
    film, album, older = torrents
    assert film.download_link == LIVE_SEARCH[0]["downloadLink"]
    assert film.link.endswith("/torrents/dhk2m9qpxw4e")
    assert (film.category, album.category) == ("Films", "Musique")
    assert (len(film.guid), len(older.guid)) == (20, 25)


def test_documented_items_have_no_download_link() -> None:
    item = {k: v for k, v in LIVE_SEARCH[0].items() if k != "downloadLink"}
    [torrent] = decode_search(msgspec.json.encode([item]))
    assert torrent.download_link is None
    [null] = decode_search(msgspec.json.encode([{**item, "downloadLink": None}]))
    assert null.download_link is None


def test_the_lenient_path_keeps_the_download_link() -> None:
    # A naive pubDate takes the second decoding pass; the link must survive it.
    naive = {**LIVE_SEARCH[0], "pubDate": "2026-04-17T21:41:56.126"}
    [torrent] = decode_search(msgspec.json.encode([naive]))
    assert torrent.download_link == LIVE_SEARCH[0]["downloadLink"]


def test_no_repr_shows_the_download_token() -> None:
    token = make_jwt(4_102_444_800.0, sub="secret-subject")
    [torrent] = decode_search(
        msgspec.json.encode(
            [
                {
                    **LIVE_SEARCH[0],
                    "downloadLink": f"https://tracker.test/api/download/{'1' * 40}?token={token}",
                }
            ]
        )
    )
    out = io.StringIO()
    Console(file=out, width=200).print(torrent, [torrent])
    shown = [
        repr(torrent),
        str(torrent),
        f"{torrent!r}",
        repr([torrent]),
        pprint.pformat(torrent),
        out.getvalue(),
    ]
    for text in shown:
        assert token not in text
        assert "token=***" in text
    assert "title='Le.Grand.Bleu.1988.MULTi.1080p.BluRay.x264-KRAKEN'" in repr(torrent)


def test_no_repr_shows_a_key_the_server_put_in_link() -> None:
    # The v2 docs make ``link`` the download URL and tell users to add ``?apikey=`` to it.
    link = f"https://tracker.test/api/torrents/download/{'1' * 40}?apikey=SECRET-KEY-42"
    [torrent] = decode_search(msgspec.json.encode([{**LIVE_SEARCH[0], "link": link}]))
    out = io.StringIO()
    Console(file=out, width=300).print(torrent)
    for text in (repr(torrent), pprint.pformat(torrent), out.getvalue()):
        assert "SECRET-KEY-42" not in text
        assert "apikey=***" in text
    assert torrent.link == link  # the value itself is the server's


def test_no_repr_shows_a_key_the_server_put_in_an_upload_link() -> None:
    # An upload answer whose link echoes the ``?passkey=`` the upload was sent with.
    link = "https://tracker.test/torrents/new-slug?passkey=SECRET-KEY-42"
    body = msgspec.json.encode({"success": True, "id": "1", "slug": "new-slug", "link": link})
    result, _ = decode_upload(body)
    out = io.StringIO()
    Console(file=out, width=300).print(result)
    for text in (repr(result), str(result), pprint.pformat(result), out.getvalue()):
        assert "SECRET-KEY-42" not in text
        assert "passkey=***" in text
    assert repr(result).startswith("UploadResult(success=True, id='1', slug='new-slug'")
    assert result.link == link  # the value itself is the server's


@pytest.mark.parametrize("bad", ["not-a-hash", "\x1b]0;PWN\x07", "ab" * 19])
def test_a_malformed_info_hash_from_the_server_has_no_magnet(bad: str) -> None:
    [torrent] = decode_search(msgspec.json.encode([{**LIVE_SEARCH[0], "infoHash": bad}]))
    with pytest.raises(la.ResponseError, match="the tracker sent an info hash"):
        _ = torrent.magnet


def test_a_logged_torrent_shows_no_token(caplog: pytest.LogCaptureFixture) -> None:
    [torrent] = decode_search(msgspec.json.encode(LIVE_SEARCH[:1]))
    token = LIVE_SEARCH[0]["downloadLink"].split("token=")[1]
    with caplog.at_level(logging.INFO):
        logging.getLogger("app").info("found %s", torrent)
    assert token not in caplog.text
    assert "token=***" in caplog.text


def test_live_meta_three_levels_and_nulls() -> None:
    meta = decode_meta(msgspec.json.encode(LIVE_META))
    autres, audio, games, xxx = meta.categories
    assert (autres.children, xxx.children) == ((), ())
    assert [c.slug for c in games.children] == ["t-l-phones", "pc"]
    music = audio.children[1]
    assert [c.slug for c in music.children] == ["flac", "mp3"]
    assert all(leaf.children == () for leaf in music.children)
    genres, quality, bitrate = meta.tag_groups
    assert (genres.tags, quality.tags) == ((), ())
    assert [t.slug for t in bitrate.tags] == ["320-kbps", "lossless"]
    assert [t.slug for t in meta.ungrouped_tags] == ["vostfr", "pisodes"]


def test_meta_helpers_work_at_any_depth() -> None:
    meta = decode_meta(msgspec.json.encode(LIVE_META))
    order = [c.slug for c in meta.iter_categories()]
    assert order == [
        "autres",
        "audio",
        "podcast",
        "music",
        "flac",
        "mp3",
        "games",
        "t-l-phones",
        "pc",
        "xxx",
    ]
    flac = meta.find_category("flac")
    assert flac is not None
    assert flac.parent_id == "cmk1mus0000000000000000cc"
    assert meta.find_category("cmk1mp30000000000000000ee") == meta.find_category("mp3")
    assert meta.find_category("t-l-phones") is not None
    assert meta.find_category("telephones") is None
    assert meta.find_tag("lossless") is not None
    assert meta.find_tag("d5gh6vosup7s73c8aaa0") == meta.find_tag("vostfr")


def test_public_structs_are_exported() -> None:
    assert la.Torrent.__struct_fields__[-1] == "download_link"


def test_search_results_carry_no_cycle_collector_header() -> None:
    # A cache holds thousands of results: without the GC header (Py_TPFLAGS_HAVE_GC) each
    # weighs 16 bytes less and is never visited by the collector. This is safe only while
    # every field is atomic; a container field would make cycles possible.
    [torrent] = decode_search(msgspec.json.encode([LIVE_SEARCH[0]]))
    assert not type(torrent).__flags__ & (1 << 14)
    assert not gc.is_tracked(torrent)
    atomic = (str, int, type(None), type(torrent.pub_date))
    assert all(isinstance(getattr(torrent, f), atomic) for f in torrent.__struct_fields__)


def _tree(depth: int) -> bytes:
    node: dict[str, object] = {"id": "leaf", "name": "n", "slug": "leaf"}
    for level in range(depth - 1):
        node = {"id": f"c{level}", "name": "n", "slug": f"s{level}", "children": [node]}
    return msgspec.json.encode({"categories": [node]})


def test_a_category_tree_deeper_than_the_bound_is_refused() -> None:
    meta = decode_meta(_tree(MAX_CATEGORY_DEPTH))
    assert len(list(meta.iter_categories())) == MAX_CATEGORY_DEPTH
    with pytest.raises(msgspec.ValidationError, match="deeper than 32 levels"):
        decode_meta(_tree(MAX_CATEGORY_DEPTH + 1))


def test_an_upload_answer_with_a_numeric_id_is_a_success_not_an_unknown_outcome() -> None:
    # Both documentations give a text id (a cuid); a tracker that answers a number has still
    # taken the upload: refusing the answer would report an outcome it knows.
    result, said = decode_upload(b'{"success": true, "id": 4242, "slug": "film-4242"}')
    assert result.success
    assert result.id == "4242"
    assert result.slug == "film-4242"
    assert said == ""
