"""LaCaleClient against answers shaped like the live tracker's (network faked at the HTTP boundary).

Covers what the live tracker does differently from its documentation: download links with a
token, 401 for a wrong key, Cloudflare and "Access denied" 403s, searches without a query,
tags that /meta does not list.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest
from _live_samples import HIDDEN_TAG_ID, LIVE_AUTH_ERROR, LIVE_META, live_item, make_jwt
from aioresponses import aioresponses
from conftest import API_KEY, BASE, NO_LIMITS, info_hash_of, make_torrent
from yarl import URL

import lacale_async as la
from lacale_async import FakeClock, LaCaleClient
from lacale_async._models import decode_search

SEARCH = re.compile(r"^https://tracker\.test/api/external(\?.*)?$")
META = re.compile(r"^https://tracker\.test/api/external/meta(\?.*)?$")
UPLOAD = re.compile(r"^https://tracker\.test/api/external/upload(\?.*)?$")
DOCUMENTED = re.compile(r"^https://tracker\.test/api/torrents/download/.*$")
TOKEN_LINK = re.compile(r"^https://tracker\.test/api/download/.*$")
NOW = 1_780_000_000.0
TORRENT = make_torrent("Le.Grand.Bleu.1988.MULTi.1080p")
HASH = info_hash_of(TORRENT)
CHALLENGE = (
    "<!DOCTYPE html><html><head><title>Just a moment...</title></head>"
    "<body><noscript>Enable JavaScript and cookies to continue</noscript></body></html>"
)


@pytest.fixture
def mock() -> Iterator[aioresponses]:
    with aioresponses() as m:
        yield m


def make_client(**kwargs: Any) -> LaCaleClient:
    options: dict[str, Any] = {
        "base_url": BASE,
        **NO_LIMITS,
        # Token expiry is read on the client's clock, in wall time.
        "clock": FakeClock(wall_start=NOW),
        "max_retries": 0,
    }
    options.update(kwargs)
    return LaCaleClient(API_KEY, **options)


@pytest.fixture
async def client() -> AsyncIterator[LaCaleClient]:
    async with make_client() as c:
        yield c


def calls(m: aioresponses) -> list[tuple[str, URL, dict[str, Any]]]:
    requests = m.requests or {}
    return [(method, url, call.kwargs) for (method, url), lst in requests.items() for call in lst]


def torrent_with(token: str | None = None, *, origin: str = BASE) -> la.Torrent:
    [torrent] = decode_search(msgspec.json.encode([live_item(HASH, token=token, origin=origin)]))
    return torrent


def key_was_sent(kwargs: dict[str, Any]) -> bool:
    headers = kwargs.get("headers") or {}
    params = kwargs.get("params") or {}
    return headers.get("X-Api-Key") == API_KEY or API_KEY in str(params)


# -- download(Torrent) ----------------------------------------------------------------------


async def test_a_fresh_link_downloads_with_its_token_and_without_the_key(
    client: LaCaleClient, mock: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    token = make_jwt(NOW + 3600, sub="user")
    mock.get(TOKEN_LINK, body=TORRENT, content_type="application/x-bittorrent")
    with caplog.at_level(logging.DEBUG, logger="lacale_async"):
        assert await client.download(torrent_with(token)) == TORRENT
    [(_, url, kwargs)] = calls(mock)
    assert url.path == f"/api/download/{HASH}"
    assert url.query["token"] == token
    assert not key_was_sent(kwargs)
    assert token not in caplog.text
    assert client.stats.endpoints["download"].requests == 1


async def test_the_link_request_goes_through_the_download_limiter(mock: aioresponses) -> None:
    clock = FakeClock()
    mock.get(TOKEN_LINK, body=TORRENT, content_type="application/x-bittorrent", repeat=True)
    async with make_client(clock=clock, download_rate=(1, 10.0)) as client:
        await client.download(torrent_with())
        await client.download(torrent_with())
        stats = client.stats.endpoints["download"]
    assert stats.requests == 2
    # The second waited out the window (plus the limiter's small safety margin).
    assert 10.0 <= stats.limiter_wait < 11.0
    assert 10.0 <= clock.now() < 11.0


@pytest.mark.parametrize(
    ("token", "origin"),
    [
        (make_jwt(NOW - 5), BASE),  # expired
        (make_jwt(NOW + 10), BASE),  # expires before the request could be served
        (make_jwt(NOW + 3600), "http://localhost:3000"),  # the February 2026 glitch
        (make_jwt(NOW + 3600), "https://mirror.test"),
    ],
)
async def test_an_expired_or_foreign_link_falls_back_to_the_documented_path(
    client: LaCaleClient, mock: aioresponses, token: str, origin: str
) -> None:
    mock.get(DOCUMENTED, body=TORRENT, content_type="application/x-bittorrent")
    assert await client.download(torrent_with(token, origin=origin)) == TORRENT
    [(_, url, kwargs)] = calls(mock)
    assert url.host == "tracker.test"
    assert url.path == f"/api/torrents/download/{HASH}"
    assert "token" not in url.query
    assert key_was_sent(kwargs)


async def test_a_refused_token_falls_back_to_the_key_once(
    client: LaCaleClient, mock: aioresponses
) -> None:
    mock.get(TOKEN_LINK, status=401, payload={"error": "Token expiré"})
    mock.get(DOCUMENTED, body=TORRENT, content_type="application/x-bittorrent")
    assert await client.download(torrent_with()) == TORRENT
    paths = [url.path for _, url, _ in calls(mock)]
    assert paths == [f"/api/download/{HASH}", f"/api/torrents/download/{HASH}"]


@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [
        (403, CHALLENGE, "text/html"),
        (403, '{"error":"Access denied"}', "application/json"),
        (404, '{"error":"Torrent introuvable"}', "application/json"),
    ],
)
async def test_a_block_or_a_missing_torrent_is_not_retried_with_the_key(
    client: LaCaleClient, mock: aioresponses, status: int, body: str, content_type: str
) -> None:
    token = make_jwt(NOW + 3600)
    mock.get(TOKEN_LINK, status=status, body=body, content_type=content_type)
    with pytest.raises(la.APIError) as info:
        await client.download(torrent_with(token))
    assert info.value.status == status
    assert token not in str(info.value)
    assert token not in info.value.url
    assert len(calls(mock)) == 1


async def test_the_integrity_check_applies_to_a_link_download(
    client: LaCaleClient, mock: aioresponses
) -> None:
    mock.get(TOKEN_LINK, body=make_torrent("Autre.Film"), content_type="application/x-bittorrent")
    with pytest.raises(la.IntegrityError):
        await client.download(torrent_with())


async def test_download_to_takes_a_torrent(
    client: LaCaleClient, mock: aioresponses, tmp_path: Path
) -> None:
    mock.get(TOKEN_LINK, body=TORRENT, content_type="application/x-bittorrent")
    path = await client.download_to(torrent_with(), tmp_path)
    assert path.read_bytes() == TORRENT
    [(_, url, _)] = calls(mock)
    assert url.path.startswith("/api/download/")


async def test_a_torrent_without_link_uses_the_documented_path(
    client: LaCaleClient, mock: aioresponses
) -> None:
    mock.get(DOCUMENTED, body=TORRENT, content_type="application/x-bittorrent")
    plain = msgspec.structs.replace(torrent_with(), download_link=None)
    assert await client.download(plain) == TORRENT


async def test_a_torrent_with_a_bad_hash_is_refused_before_sending(
    client: LaCaleClient, mock: aioresponses
) -> None:
    bad = msgspec.structs.replace(torrent_with(), info_hash="../../x")
    with pytest.raises(la.ValidationError):
        await client.download(bad)
    assert calls(mock) == []


# -- search without a query ---------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs", [{}, {"query": ""}, {"query": "   "}, {"categories": "films"}, {"query": None}]
)
async def test_a_search_without_query_or_tmdb_id_is_refused_before_sending(
    client: LaCaleClient, mock: aioresponses, kwargs: dict[str, Any]
) -> None:
    with pytest.raises(la.ValidationError, match=r"requires?|needs a query") as info:
        await client.search(**kwargs)
    assert "FRENCH" in str(info.value)
    assert "allow_empty_search" in str(info.value)
    assert calls(mock) == []


async def test_a_tmdb_id_alone_is_a_valid_search(client: LaCaleClient, mock: aioresponses) -> None:
    mock.get(SEARCH, payload=[])
    assert await client.search(tmdb_id=27205) == []
    [(_, url, _)] = calls(mock)
    assert url.query["tmdbId"] == "27205"
    assert "q" not in url.query


async def test_the_indexers_habit_q_french_is_sent_as_is(
    client: LaCaleClient, mock: aioresponses
) -> None:
    mock.get(SEARCH, payload=[])
    await client.search("FRENCH", categories="films")
    [(_, url, _)] = calls(mock)
    assert url.query["q"] == "FRENCH"


async def test_search_many_refuses_an_empty_query_before_anything_is_sent(
    client: LaCaleClient, mock: aioresponses
) -> None:
    with pytest.raises(la.ValidationError, match="needs a query"):
        client.search_many(["dune", la.SearchQuery(categories=("films",))])
    assert calls(mock) == []


async def test_allow_empty_search_sends_it(mock: aioresponses) -> None:
    mock.get(SEARCH, payload=[], repeat=True)
    async with make_client(allow_empty_search=True) as client:
        await client.search()
        outcomes = [o async for o in client.search_many([la.SearchQuery(categories=("films",))])]
    assert all(o.ok for o in outcomes)
    assert len(calls(mock)) == 2


def test_allow_empty_search_must_be_a_bool() -> None:
    with pytest.raises(la.ConfigurationError, match="allow_empty_search"):
        make_client(allow_empty_search="yes")


# -- tags that /meta does not list --------------------------------------------------------


def upload_fields(kwargs: dict[str, Any]) -> dict[str, list[Any]]:
    data: aiohttp.FormData = kwargs["data"]
    fields: dict[str, list[Any]] = {}
    for opts, _headers, value in data._fields:
        fields.setdefault(opts["name"], []).append(value)
    return fields


@pytest.mark.parametrize(
    "tag_id",
    [HIDDEN_TAG_ID, "cmk1zzz0000000000000000zz", "0f1e2d3c-4b5a-4968-8776-655443322110"],
)
async def test_an_id_shaped_tag_absent_from_meta_is_sent(
    client: LaCaleClient, mock: aioresponses, tag_id: str
) -> None:
    mock.get(META, payload=LIVE_META)
    mock.post(UPLOAD, payload={"success": True, "id": "d7x", "slug": "s", "link": f"{BASE}/t"})
    await client.upload(
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
    client: LaCaleClient, mock: aioresponses, tag: str
) -> None:
    mock.get(META, payload=LIVE_META)
    with pytest.raises(la.ValidationError, match="unknown tag"):
        await client.upload(title="T", category="pc", torrent=TORRENT, tags=[tag])
    assert [m for m, _, _ in calls(mock)] == ["GET"]


async def test_a_third_level_category_is_resolved_by_slug(
    client: LaCaleClient, mock: aioresponses
) -> None:
    mock.get(META, payload=LIVE_META)
    mock.post(UPLOAD, payload={"success": True, "id": "d7x", "slug": "s", "link": f"{BASE}/t"})
    await client.upload(title="Album", category="flac", torrent=TORRENT)
    [post] = [kw for method, _, kw in calls(mock) if method == "POST"]
    assert upload_fields(post)["categoryId"] == ["cmk1fla0000000000000000dd"]


# -- error texts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "payload", "cls", "said"),
    [
        (401, LIVE_AUTH_ERROR, la.AuthenticationError, "API key was refused"),
        (401, {"error": "API key invalide"}, la.AuthenticationError, "API key was refused"),
        (401, {"error": "API key manquante"}, la.AuthenticationError, "no API key reached"),
        (401, {"error": "Clé API manquante"}, la.AuthenticationError, "no API key reached"),
        (401, {"error": "Passkey invalide ou manquante"}, la.AuthenticationError, "missing or"),
        (401, {}, la.AuthenticationError, "missing or was refused"),
        (403, {"error": "Clé API invalide"}, la.PermissionDeniedError, "API key was refused"),
        (403, {"error": "Access denied"}, la.PermissionDeniedError, "blocked this client"),
    ],
)
async def test_key_errors_say_what_happened(
    client: LaCaleClient,
    mock: aioresponses,
    status: int,
    payload: dict[str, str],
    cls: type[la.APIError],
    said: str,
) -> None:
    mock.get(SEARCH, status=status, payload=payload)
    with pytest.raises(cls, match=said) as info:
        await client.search("x")
    assert info.value.status == status
    assert API_KEY not in str(info.value)


@pytest.mark.parametrize("status", [403, 503])
async def test_a_challenge_page_is_named_a_cloudflare_challenge(
    client: LaCaleClient, mock: aioresponses, status: int
) -> None:
    mock.get(SEARCH, status=status, body=CHALLENGE, content_type="text/html")
    with pytest.raises(la.APIError, match="Cloudflare challenge") as info:
        await client.search("x")
    assert info.value.status == status


async def test_a_503_that_is_not_a_challenge_stays_a_server_error(
    client: LaCaleClient, mock: aioresponses
) -> None:
    mock.get(SEARCH, status=503, payload={"error": "Service indisponible"})
    with pytest.raises(la.ServerError) as info:
        await client.search("x")
    assert "Cloudflare" not in str(info.value)
