"""``upload``: every field sent, slugs resolved, the source flag, never sent twice blindly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
from _live_samples import HIDDEN_TAG_ID, LIVE_META
from _mocked import META, TORRENT, UPLOAD, calls, make_client, sent
from _sandboxed import NFO, is_live, tracker_client
from aioresponses import aioresponses
from conftest import API_KEY, BASE, META_JSON, info_hash_of, make_torrent

import lacale_async as la
from lacale_async import FakeClock, LaCaleClient
from lacale_async.testing import Fault, SandboxServer

pytest_plugins = ["_mocked", "_sandboxed"]


def form_fields(kwargs: dict[str, Any]) -> list[tuple[str, Any, dict[str, str]]]:
    data: aiohttp.FormData = kwargs["data"]
    return [(opts["name"], value, dict(opts)) for opts, _headers, value in data._fields]


def upload_fields(kwargs: dict[str, Any]) -> dict[str, list[Any]]:
    data: aiohttp.FormData = kwargs["data"]
    fields: dict[str, list[Any]] = {}
    for opts, _headers, value in data._fields:
        fields.setdefault(opts["name"], []).append(value)
    return fields


# -- the network faked at the HTTP boundary ----------------------------------------------


async def test_upload_resolves_slugs_and_sends_every_field(
    client: LaCaleClient, mock: aioresponses, tmp_path: Path
) -> None:
    torrent = make_torrent("Le.Film.2024.1080p")
    path = tmp_path / "film.torrent"
    path.write_bytes(torrent)
    (tmp_path / "film.nfo").write_bytes(b"NFO TEXT")
    mock.get(META, payload=META_JSON)
    mock.post(
        UPLOAD,
        payload={"success": True, "id": "ckx9", "slug": "le-film", "link": "https://t/le-film"},
    )
    result = await client.upload(
        title="  Le Film 2024  ",
        category="films",
        torrent=path,
        tags=["1080p", "tag_vostfr"],
        description="Un film.",
        tmdb_id=12345,
        tmdb_type="MOVIE",
        cover_url="https://image.test/cover.jpg",
        nfo=str(tmp_path / "film.nfo"),
    )
    assert result.success
    assert result.id == "ckx9"
    assert result.slug == "le-film"
    assert result.torrent == torrent
    assert result.info_hash == info_hash_of(torrent)
    upload_calls = [c for c in calls(mock) if c[0] == "POST"]
    assert len(upload_calls) == 1
    fields = form_fields(upload_calls[0][2])
    by_name: dict[str, list[Any]] = {}
    for name, value, _ in fields:
        by_name.setdefault(name, []).append(value)
    assert by_name["title"] == ["Le Film 2024"]
    assert by_name["categoryId"] == ["cat_films"]
    assert by_name["tags"] == ["tag_1080p", "tag_vostfr"]
    assert by_name["tmdbId"] == ["12345"]
    assert by_name["tmdbType"] == ["MOVIE"]
    assert by_name["coverUrl"] == ["https://image.test/cover.jpg"]
    assert by_name["description"] == ["Un film."]
    assert by_name["file"] == [torrent]
    assert by_name["nfoFile"] == [b"NFO TEXT"]
    file_opts = next(opts for name, _, opts in fields if name == "file")
    assert file_opts["filename"].endswith(".torrent")
    assert "passkey" not in by_name


async def test_upload_in_passkey_mode_sends_the_passkey_field(
    fake_clock: FakeClock, mock: aioresponses
) -> None:
    mock.get(META, payload=META_JSON)
    mock.post(UPLOAD, payload={"success": True, "id": "1", "slug": "s", "link": "l"})
    async with make_client(fake_clock, auth="passkey") as client:
        await client.upload(title="T", category="cat_films", torrent=make_torrent())
    [(_, url, kwargs)] = [c for c in calls(mock) if c[0] == "POST"]
    assert url.query["passkey"] == API_KEY
    assert ("passkey", API_KEY) in [(n, v) for n, v, _ in form_fields(kwargs)]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"title": "   "}, "title"),
        ({"category": "nope"}, r"unknown category 'nope'.*films"),
        ({"tags": ["nope"]}, "unknown tag"),
        ({"tags": "1080p"}, "sequence"),
        ({"tmdb_type": "movie"}, "MOVIE"),
        ({"cover_url": "http://image.test/c.jpg"}, "https"),
        ({"tmdb_id": "9" * 65}, "64"),
        ({"torrent": b"not bencode"}, "bencode"),
        ({"torrent": "/does/not/exist.torrent"}, "not found"),
        ({"torrent": 12}, "bytes or a path"),
    ],
)
async def test_upload_validation_happens_before_the_upload_is_sent(
    client: LaCaleClient, mock: aioresponses, kwargs: dict[str, Any], match: str
) -> None:
    mock.get(META, payload=META_JSON, repeat=True)
    args: dict[str, Any] = {"title": "T", "category": "films", "torrent": make_torrent()}
    args.update(kwargs)
    with pytest.raises(la.ValidationError, match=match):
        await client.upload(**args)
    assert not [c for c in calls(mock) if c[0] == "POST"]


async def test_upload_accepts_no_tags(client: LaCaleClient, mock: aioresponses) -> None:
    mock.get(META, payload=META_JSON)
    mock.post(UPLOAD, payload={"success": True, "id": "1", "slug": "s", "link": "l"})
    result = await client.upload(title="T", category="films", torrent=make_torrent(), tags=None)  # type: ignore[arg-type]
    assert result.success


async def test_upload_sets_the_source_flag_by_default(
    client: LaCaleClient, mock: aioresponses
) -> None:
    original = make_torrent(source=None)
    mock.get(META, payload=META_JSON)
    mock.post(UPLOAD, payload={"success": True, "id": "1", "slug": "s", "link": "l"})
    result = await client.upload(title="T", category="films", torrent=original)
    assert result.torrent is not None
    assert la.parse_torrent(result.torrent).source == "lacale"
    assert result.info_hash != info_hash_of(original)
    assert result.info_hash == la.parse_torrent(result.torrent).info_hash


async def test_upload_refuse_policy_sends_nothing(
    fake_clock: FakeClock, mock: aioresponses
) -> None:
    mock.get(META, payload=META_JSON)
    async with make_client(fake_clock, source_policy="refuse") as client:
        with pytest.raises(la.ValidationError, match="source"):
            await client.upload(title="T", category="films", torrent=make_torrent(source=None))
    assert sent(mock) == 0


async def test_upload_success_false_with_200_is_an_error(
    client: LaCaleClient, mock: aioresponses
) -> None:
    mock.get(META, payload=META_JSON)
    mock.post(UPLOAD, payload={"success": False, "error": "Torrent illisible"})
    with pytest.raises(la.UploadRejectedError, match="Torrent illisible") as info:
        await client.upload(title="T", category="films", torrent=make_torrent())
    assert isinstance(info.value, la.ResponseError)


async def test_upload_409_names_the_info_hash(client: LaCaleClient, mock: aioresponses) -> None:
    torrent = make_torrent()
    mock.get(META, payload=META_JSON)
    mock.post(UPLOAD, status=409, payload={"error": "Torrent déjà existant"})
    with pytest.raises(la.ConflictError) as info:
        await client.upload(title="T", category="films", torrent=torrent)
    assert info.value.info_hash == info_hash_of(torrent)
    assert info_hash_of(torrent) in str(info.value)
    assert len([c for c in calls(mock) if c[0] == "POST"]) == 1


async def test_upload_answered_by_an_html_page_says_outcome_unknown(
    client: LaCaleClient, mock: aioresponses
) -> None:
    mock.get(META, payload=META_JSON)
    mock.post(
        UPLOAD,
        status=200,
        body="<html><title>Just a moment</title></html>",
        content_type="text/html",
    )
    with pytest.raises(la.ResponseError, match="may or may not") as info:
        await client.upload(title="T", category="films", torrent=make_torrent())
    assert info.value.outcome_unknown


# -- answers shaped like the live tracker's ----------------------------------------------


@pytest.mark.parametrize(
    "tag_id",
    [HIDDEN_TAG_ID, "cmk1zzz0000000000000000zz", "0f1e2d3c-4b5a-4968-8776-655443322110"],
)
async def test_an_id_shaped_tag_absent_from_meta_is_sent(
    live_client: LaCaleClient, mock: aioresponses, tag_id: str
) -> None:
    mock.get(META, payload=LIVE_META)
    mock.post(UPLOAD, payload={"success": True, "id": "d7x", "slug": "s", "link": f"{BASE}/t"})
    await live_client.upload(
        title="Le Grand Bleu 1988",
        category="pc",
        torrent=TORRENT,
        tags=[tag_id, "lossless", "cmk1t320000000000000000kk"],
    )
    [post] = [kw for method, _, kw in calls(mock) if method == "POST"]
    # Repeated "tags" fields, never a JSON array (Seedarr: an array gets a 500).
    assert upload_fields(post)["tags"] == [
        tag_id,
        "cmk1tlo0000000000000000ll",
        "cmk1t320000000000000000kk",
    ]


@pytest.mark.parametrize("tag", ["1080p", "qualit-r-solution", "tag_1080p", "d5q1080sup7s73c8bbb"])
async def test_a_tag_that_is_neither_a_slug_nor_an_id_is_refused_before_sending(
    live_client: LaCaleClient, mock: aioresponses, tag: str
) -> None:
    mock.get(META, payload=LIVE_META)
    with pytest.raises(la.ValidationError, match="unknown tag"):
        await live_client.upload(title="T", category="pc", torrent=TORRENT, tags=[tag])
    assert [m for m, _, _ in calls(mock)] == ["GET"]


async def test_a_third_level_category_is_resolved_by_slug(
    live_client: LaCaleClient, mock: aioresponses
) -> None:
    mock.get(META, payload=LIVE_META)
    mock.post(UPLOAD, payload={"success": True, "id": "d7x", "slug": "s", "link": f"{BASE}/t"})
    await live_client.upload(title="Album", category="flac", torrent=TORRENT)
    [post] = [kw for method, _, kw in calls(mock) if method == "POST"]
    assert upload_fields(post)["categoryId"] == ["cmk1fla0000000000000000dd"]


# -- the sandbox on 127.0.0.1, in both profiles ------------------------------------------


@pytest.mark.integration
async def test_upload_then_conflict_then_download(tracker: SandboxServer, tmp_path: Path) -> None:
    original = make_torrent("Le.Voyage.de.Chihiro.2001.MULTi.1080p", source=None)
    async with tracker_client(tracker, cache_ttl=0) as client:
        result = await client.upload(
            title="Le Voyage de Chihiro 2001",
            category="films",
            torrent=original,
            tmdb_id=129,
            tmdb_type="MOVIE",
            cover_url="https://image.test/chihiro.jpg",
            nfo=NFO,
        )
        assert result.success
        assert result.torrent is not None
        assert la.parse_torrent(result.torrent).info_hash == result.info_hash
        record = tracker.uploads[-1]
        assert record.source_flag is True
        with pytest.raises(la.ConflictError) as conflict:
            await client.upload(title="Again", category="films", torrent=result.torrent, nfo=NFO)
        assert conflict.value.info_hash == result.info_hash
        assert result.info_hash is not None
        found = await client.search("chihiro")
        [mine] = [t for t in found if t.info_hash == result.info_hash]
        saved = await client.download_to(mine, tmp_path)
    assert saved.read_bytes() == result.torrent
    last = tracker.requests[-1]
    if is_live(tracker):
        # Through the result's download link: its token, not the key.
        assert last.path == f"/api/download/{result.info_hash}"
        assert last.auth_via is None
        assert last.key_name == "default"
        assert mine.link.endswith(f"/torrents/{record.slug}")
    else:
        assert mine.download_link is None
        assert last.path == f"/api/torrents/download/{result.info_hash}"
        assert last.auth_via == "header"


@pytest.mark.integration
async def test_a_tag_id_the_meta_does_not_list_is_accepted(tracker: SandboxServer) -> None:
    taxonomy = tracker.catalogue.taxonomy
    hidden = next((t for g in taxonomy.tag_groups if not g.listed for t in g.tags), None)
    tag = hidden.id if hidden is not None else taxonomy.tag_groups[0].tags[0].id
    async with tracker_client(tracker) as client:
        meta = await client.meta()
        assert (meta.find_tag(tag) is None) is is_live(tracker)
        await client.upload(
            title="Tagged",
            category="films",
            torrent=make_torrent("Tagged.2024"),
            tags=[tag],
            nfo=NFO,
        )
    assert tracker.uploads[-1].tag_ids == (tag,)


@pytest.mark.integration
async def test_upload_success_false_is_an_error(tracker: SandboxServer) -> None:
    tracker.faults.add(Fault.upload_rejected("Torrent illisible"), endpoint="upload")
    async with tracker_client(tracker) as client:
        with pytest.raises(la.UploadRejectedError, match="Torrent illisible"):
            await client.upload(title="T", category="films", torrent=make_torrent("T.2020"))


@pytest.mark.integration
async def test_upload_500_is_not_retried(tracker: SandboxServer) -> None:
    tracker.faults.add(Fault.error(500), endpoint="upload", times=None)
    async with tracker_client(tracker, max_retries=3) as client:
        with pytest.raises(la.ServerError) as info:
            await client.upload(title="T", category="films", torrent=make_torrent("U.2020"))
    assert info.value.outcome_unknown
    assert len([r for r in tracker.requests if r.endpoint == "upload"]) == 1
