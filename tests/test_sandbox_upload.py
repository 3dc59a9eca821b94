"""POST /api/external/upload and GET /api/torrents/download/<infoHash> on a live sandbox."""

from __future__ import annotations

import hashlib
from typing import Any

import aiohttp
import bencode2
import pytest

from lacale_async import FakeClock
from lacale_async.testing import SandboxServer

pytest_plugins = ["_sandbox_http"]
pytestmark = pytest.mark.integration


def torrent_file(name: str, *, source: str | None = "lacale", size: int = 123_456) -> bytes:
    """Build a small private single-file torrent, independently of the sandbox's generator."""
    info: dict[bytes, Any] = {
        b"length": size,
        b"name": name.encode(),
        b"piece length": 16384,
        b"pieces": hashlib.sha1(name.encode()).digest() * (-(-size // 16384)),
        b"private": 1,
    }
    if source is not None:
        info[b"source"] = source.encode()
    data: bytes = bencode2.bencode({b"announce": b"https://tracker.test/announce", b"info": info})
    return data


def info_hash(data: bytes) -> str:
    return hashlib.sha1(bencode2.bencode(bencode2.bdecode(data)[b"info"])).hexdigest()


def category_id(sandbox: SandboxServer, slug: str = "films") -> str:
    category = sandbox.catalogue.taxonomy.by_slug(slug)
    assert category is not None
    return category.id


def tag_id(sandbox: SandboxServer, slug: str) -> str:
    tag = sandbox.catalogue.taxonomy.tag_by_slug(slug)
    assert tag is not None
    return tag.id


def form(fields: dict[str, Any], *, torrent: bytes | None = None) -> aiohttp.FormData:
    data = aiohttp.FormData()
    for name, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            data.add_field(name, item)
    if torrent is not None:
        data.add_field(
            "file", torrent, filename="upload.torrent", content_type="application/x-bittorrent"
        )
    return data


async def post(
    http: aiohttp.ClientSession, data: aiohttp.FormData, **kwargs: Any
) -> tuple[int, dict[str, Any]]:
    async with http.post("/api/external/upload", data=data, **kwargs) as response:
        body: dict[str, Any] = await response.json()
        return response.status, body


# --- happy path ----------------------------------------------------------------------------


async def test_upload_is_recorded_downloadable_and_answers_like_the_doc(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    data = torrent_file("Les.Misérables.2012.MULTi.1080p.BluRay.x264-TEST")
    fields = {
        "title": "Les Misérables (2012) 1080p",
        "categoryId": category_id(sandbox),
        "tags": [tag_id(sandbox, "1080p"), tag_id(sandbox, "drame")],
        "description": "Une description accentuée",
        "tmdbId": "82695",
        "tmdbType": "MOVIE",
        "coverUrl": "https://image.tmdb.org/t/p/w500/poster.jpg",
    }
    payload = form(fields, torrent=data)
    payload.add_field("nfoFile", b"NFO CONTENT", filename="release.nfo")
    status, body = await post(http, payload)
    assert status == 200
    assert set(body) == {"success", "id", "slug", "link"}
    assert body["success"] is True
    assert body["slug"].startswith("les-miserables-2012-1080p-")
    assert body["link"] == f"{sandbox.base_url}/torrents/{body['slug']}"

    [record] = sandbox.uploads
    assert record.id == body["id"]
    assert record.info_hash == info_hash(data)
    assert record.tag_ids == (tag_id(sandbox, "1080p"), tag_id(sandbox, "drame"))
    assert record.tmdb_id == "82695"
    assert record.tmdb_type == "MOVIE"
    assert record.description == "Une description accentuée"
    assert record.nfo == b"NFO CONTENT"
    assert record.torrent == data
    assert record.source_flag is True
    assert record.key_name == "default"
    assert record.torrent_filename == "upload.torrent"

    async with http.get(f"/api/torrents/download/{info_hash(data)}") as response:
        assert response.status == 200
        assert await response.read() == data


async def test_missing_source_flag_is_accepted_but_recorded(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    data = torrent_file("No.Source.Flag", source=None)
    status, _ = await post(
        http, form({"title": "t", "categoryId": category_id(sandbox)}, torrent=data)
    )
    assert status == 200
    assert sandbox.uploads[-1].source_flag is False
    other = torrent_file("Other.Source.Flag", source="othertracker")
    status, _ = await post(
        http, form({"title": "t", "categoryId": category_id(sandbox)}, torrent=other)
    )
    assert status == 200
    assert sandbox.uploads[-1].source_flag is False


async def test_upload_becomes_searchable_once_the_cache_expires(
    sandbox: SandboxServer, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    async def titles() -> list[str]:
        async with http.get("/api/external", params={"q": "sandbox exclusive"}) as response:
            return [r["title"] for r in await response.json()]

    assert await titles() == []
    data = torrent_file("Sandbox.Exclusive.2025.1080p")
    fields = {"title": "Sandbox.Exclusive.2025.1080p", "categoryId": category_id(sandbox, "video")}
    status, _ = await post(http, form(fields, torrent=data))
    assert status == 200
    clock.advance(10)
    assert await titles() == [], "the cached empty answer is still served"
    clock.advance(20)
    assert await titles() == ["Sandbox.Exclusive.2025.1080p"]
    async with http.get("/api/external", params={"cat": "video"}) as response:
        newest = (await response.json())[0]
    assert newest["infoHash"] == info_hash(data), "uploads are the newest torrents"
    assert newest["category"] == "Vidéo"


async def test_legacy_passkey_form_field_and_tags_brackets(sandbox: SandboxServer) -> None:
    data = torrent_file("Form.Passkey")
    fields = {
        "passkey": sandbox.api_key,
        "title": "Form passkey",
        "categoryId": category_id(sandbox, "divers"),
        "tags[]": [tag_id(sandbox, "retro")],
    }
    async with aiohttp.ClientSession(base_url=sandbox.base_url) as session:
        status, body = await post(session, form(fields, torrent=data))
    assert status == 200, body
    assert sandbox.uploads[-1].tag_ids == (tag_id(sandbox, "retro"),)
    assert sandbox.requests[-1].auth_via == "form"
    assert sandbox.requests[-1].key_name == "default"


async def test_upload_needs_a_valid_key(sandbox: SandboxServer) -> None:
    fields = {"title": "x", "categoryId": category_id(sandbox)}
    async with aiohttp.ClientSession(base_url=sandbox.base_url) as session:
        status, _ = await post(session, form(fields, torrent=torrent_file("a")))
        assert status == 401
        status, _ = await post(
            session, form({**fields, "passkey": "wrong"}, torrent=torrent_file("a"))
        )
        assert status == 403
    assert sandbox.uploads == []


# --- rejections ----------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["title", "categoryId", "file"])
async def test_each_required_field(
    sandbox: SandboxServer, http: aiohttp.ClientSession, missing: str
) -> None:
    fields = {"title": "Titre", "categoryId": category_id(sandbox)}
    fields.pop(missing, None)
    data = None if missing == "file" else torrent_file("Required")
    status, body = await post(http, form(fields, torrent=data))
    assert status == 400
    assert missing in body["error"]
    assert sandbox.uploads == []


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ({"categoryId": "cm_not_a_category"}, "Catégorie"),
        ({"tags": ["cm_not_a_tag"]}, "Tag"),
        ({"tmdbType": "FILM"}, "tmdbType"),
        ({"tmdbType": "movie"}, "tmdbType"),
        ({"tmdbId": "tt0211915"}, "tmdbId"),
        ({"coverUrl": "http://example.com/cover.jpg"}, "coverUrl"),
        ({"coverUrl": "not a url"}, "coverUrl"),
        ({"title": "x" * 256}, "title"),
    ],
)
async def test_rule_violations_are_400(
    sandbox: SandboxServer, http: aiohttp.ClientSession, override: dict[str, Any], needle: str
) -> None:
    fields = {"title": "Titre", "categoryId": category_id(sandbox), **override}
    status, body = await post(http, form(fields, torrent=torrent_file("Rules")))
    assert status == 400
    assert needle in body["error"]
    assert sandbox.uploads == []


async def test_a_parent_category_id_is_accepted(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    fields = {"title": "Parent", "categoryId": category_id(sandbox, "audio")}
    status, _ = await post(http, form(fields, torrent=torrent_file("Parent")))
    assert status == 200


@pytest.mark.parametrize(
    "data",
    [
        b"this is not bencode",
        bencode2.bencode({b"announce": b"x"}),
        bencode2.bencode({b"info": {b"name": b"x"}}),
    ],
)
async def test_unreadable_torrents_are_400(
    sandbox: SandboxServer, http: aiohttp.ClientSession, data: bytes
) -> None:
    fields = {"title": "Bad", "categoryId": category_id(sandbox)}
    status, body = await post(http, form(fields, torrent=data))
    assert status == 400
    assert "Torrent" in body["error"]


async def test_duplicate_info_hash_is_409(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    data = torrent_file("Twice")
    fields = {"title": "Twice", "categoryId": category_id(sandbox)}
    assert (await post(http, form(fields, torrent=data)))[0] == 200
    status, body = await post(http, form(fields, torrent=data))
    assert status == 409
    assert body["error"]
    existing = next(iter(sandbox.catalogue))
    status, _ = await post(http, form(fields, torrent=existing.data))
    assert status == 409
    assert len(sandbox.uploads) == 1


async def test_a_non_multipart_body_is_400(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    async with http.post("/api/external/upload", json={"title": "x"}) as response:
        assert response.status == 400
        assert "multipart" in (await response.json())["error"]


async def test_upload_rate_limit_is_30_per_minute_by_default(
    sandbox: SandboxServer, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    fields = {"title": "x", "categoryId": category_id(sandbox)}
    statuses = []
    for i in range(31):
        status, _ = await post(http, form(fields, torrent=torrent_file(f"rl{i}")))
        statuses.append(status)
        clock.advance(1)
    assert statuses == [200] * 30 + [429]
    assert sandbox.requests[-1].status == 429
    clock.advance(29)  # the first upload (t=0) leaves the window at t=60
    status, _ = await post(http, form(fields, torrent=torrent_file("rl-again")))
    assert status == 200


# --- download ------------------------------------------------------------------------------


async def test_download_serves_the_catalogue_torrent(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    torrent = next(t for t in sandbox.catalogue if t.approved and "é" in t.title)
    async with http.get(f"/api/torrents/download/{torrent.info_hash.upper()}") as response:
        assert response.status == 200
        assert response.content_type == "application/x-bittorrent"
        disposition = response.headers["Content-Disposition"]
        body = await response.read()
    assert info_hash(body) == torrent.info_hash
    assert disposition.startswith("attachment; filename=")
    assert ".torrent" in disposition
    assert "filename*=UTF-8''" in disposition
    assert disposition.isascii()


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("0" * 40, 404),
        ("a" * 64, 404),
        ("xyz", 400),
        ("a" * 39, 400),
        ("g" * 40, 400),
    ],
)
async def test_download_errors(http: aiohttp.ClientSession, path: str, status: int) -> None:
    async with http.get(f"/api/torrents/download/{path}") as response:
        assert response.status == status
        assert (await response.json())["error"]


async def test_unapproved_torrents_are_not_downloadable(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    pending = next(t for t in sandbox.catalogue if not t.approved)
    async with http.get(f"/api/torrents/download/{pending.info_hash}") as response:
        assert response.status == 404


async def test_download_needs_a_key(sandbox: SandboxServer) -> None:
    torrent = next(t for t in sandbox.catalogue if t.approved)
    async with aiohttp.ClientSession(base_url=sandbox.base_url) as session:
        async with session.get(f"/api/torrents/download/{torrent.info_hash}") as response:
            assert response.status == 401
        async with session.get(
            f"/api/torrents/download/{torrent.info_hash}", params={"apikey": sandbox.api_key}
        ) as response:
            assert response.status == 200
