"""Unit tests of LaCaleClient with the network faked at the HTTP boundary (aioresponses)."""

from __future__ import annotations

import gc
import logging
import os
import re
from collections.abc import AsyncIterator, Iterator
from datetime import timezone
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses
from conftest import API_KEY, BASE, META_JSON, info_hash_of, make_torrent, torrent_json
from yarl import URL

import lacale_async as la
from lacale_async import FakeClock, LaCaleClient

SEARCH = re.compile(r"^https://tracker\.test/api/external(\?.*)?$")
META = re.compile(r"^https://tracker\.test/api/external/meta(\?.*)?$")
UPLOAD = re.compile(r"^https://tracker\.test/api/external/upload(\?.*)?$")
DOWNLOAD = re.compile(r"^https://tracker\.test/api/torrents/download/.*$")


@pytest.fixture
def mock() -> Iterator[aioresponses]:
    with aioresponses() as m:
        yield m


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_client(clock: FakeClock, **kwargs: Any) -> LaCaleClient:
    options: dict[str, Any] = {
        "base_url": BASE,
        "search_rate": None,
        "download_rate": None,
        "meta_rate": None,
        "upload_rate": None,
        "clock": clock,
    }
    options.update(kwargs)
    return LaCaleClient(API_KEY, **options)


@pytest.fixture
async def client(clock: FakeClock) -> AsyncIterator[LaCaleClient]:
    async with make_client(clock) as c:
        yield c


def calls(m: aioresponses) -> list[tuple[str, URL, dict[str, Any]]]:
    """Every request the client sent, as (method, url, kwargs)."""
    requests = m.requests or {}
    return [(method, url, call.kwargs) for (method, url), lst in requests.items() for call in lst]


def sent_count(m: aioresponses) -> int:
    return len(calls(m))


def assert_no_key(text: str) -> None:
    assert API_KEY not in text


# -- construction and lifecycle ----------------------------------------------------------


def test_missing_key_is_a_clear_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LACALE_API_KEY", raising=False)
    with pytest.raises(la.ConfigurationError, match="LACALE_API_KEY"):
        LaCaleClient()


def test_key_and_base_url_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LACALE_API_KEY", API_KEY)
    monkeypatch.setenv("LACALE_BASE_URL", "http://127.0.0.1:8080/")
    client = LaCaleClient()
    assert client.base_url == "http://127.0.0.1:8080"


@pytest.mark.parametrize(
    ("base_url", "allow"),
    [("http://la-cale.space", False), ("ftp://x", False), ("https://x/?apikey=1", False)],
)
def test_bad_base_urls_are_refused(base_url: str, allow: bool) -> None:
    with pytest.raises(la.ConfigurationError):
        LaCaleClient(API_KEY, base_url=base_url, allow_insecure_http=allow)


def test_plain_http_is_allowed_on_loopback_or_with_opt_in() -> None:
    assert LaCaleClient(API_KEY, base_url="http://localhost:1").base_url == "http://localhost:1"
    assert LaCaleClient(API_KEY, base_url="http://[::1]:1").base_url == "http://[::1]:1"
    client = LaCaleClient(API_KEY, base_url="http://tracker.lan", allow_insecure_http=True)
    assert client.base_url == "http://tracker.lan"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"auth": "cookie"},
        {"search_rate": (0, 1.0)},
        {"search_rate": (1, -1.0)},
        {"upload_rate": "fast"},
        {"cache_ttl": -1},
        {"max_retries": -1},
        {"timeout": 0},
        {"source_policy": "maybe"},
    ],
)
def test_bad_options_fail_at_construction(kwargs: dict[str, Any]) -> None:
    with pytest.raises(la.ConfigurationError):
        LaCaleClient(API_KEY, base_url=BASE, **kwargs)


def test_key_with_control_characters_is_refused_without_quoting_it() -> None:
    with pytest.raises(la.ConfigurationError) as info:
        LaCaleClient("abc\ndef-SECRET", base_url=BASE)
    assert "SECRET" not in str(info.value)


async def test_states_and_double_close(clock: FakeClock) -> None:
    client = make_client(clock)
    states = [client.state]
    with pytest.raises(la.ClientStateError, match="not open"):
        await client.search("x")
    async with client:
        states.append(client.state)
        with pytest.raises(la.ClientStateError, match="already open"):
            await client.open()
    states.append(client.state)
    assert states == [la.ClientState.UNOPENED, la.ClientState.OPEN, la.ClientState.CLOSED]
    await client.aclose()
    await client.aclose()
    with pytest.raises(la.ClientStateError, match="closed"):
        await client.search("x")
    with pytest.raises(la.ClientStateError, match="closed"):
        await client.open()


async def test_open_and_aclose_without_context_manager(
    clock: FakeClock, mock: aioresponses
) -> None:
    mock.get(SEARCH, payload=[])
    client = await make_client(clock).open()
    try:
        assert await client.search("x") == []
    finally:
        await client.aclose()


def test_repr_never_shows_the_key(clock: FakeClock) -> None:
    client = make_client(clock)
    assert_no_key(repr(client))
    assert_no_key(repr(vars(client)) if hasattr(client, "__dict__") else "")
    assert "tracker.test" in repr(client)


# -- search --------------------------------------------------------------------------------


async def test_search_sends_documented_params_and_decodes(
    client: LaCaleClient, mock: aioresponses
) -> None:
    mock.get(SEARCH, payload=[torrent_json(0), torrent_json(1)])
    results = await client.search("One Piece", categories=["films", "series"], tmdb_id=12345)
    [(method, url, kwargs)] = calls(mock)
    assert method == "GET"
    assert url.path == "/api/external"
    assert url.query.getall("cat") == ["films", "series"]
    assert url.query["q"] == "One Piece"
    assert url.query["tmdbId"] == "12345"
    assert "apikey" not in url.query
    assert kwargs["headers"]["X-Api-Key"] == API_KEY
    assert kwargs["headers"]["User-Agent"].startswith("lacale-async/")
    first = results[0]
    assert isinstance(first, la.Torrent)
    assert first.title == "One.Piece.S01E01.1080p"
    assert first.size == 2147483648
    assert first.pub_date.tzinfo is not None
    assert first.pub_date.utcoffset() == timezone.utc.utcoffset(None)
    assert first.info_hash == "0" * 40
    assert first.category == "Séries TV"
    assert first.magnet.startswith("magnet:?xt=urn:btih:" + "0" * 40)
    assert "dn=One.Piece.S01E01.1080p" in first.magnet


async def test_single_category_string_and_no_query(clock: FakeClock, mock: aioresponses) -> None:
    # The documented API lists the latest torrents for a search without a query.
    mock.get(SEARCH, payload=[])
    async with make_client(clock, allow_empty_search=True) as client:
        await client.search(categories="films")
    [(_, url, _)] = calls(mock)
    assert url.query.getall("cat") == ["films"]
    assert "q" not in url.query


async def test_naive_dates_are_taken_as_utc(client: LaCaleClient, mock: aioresponses) -> None:
    mock.get(SEARCH, payload=[torrent_json(0, pubDate="2025-01-12T10:00:00.000")])
    [result] = await client.search("x")
    assert result.pub_date.tzinfo is timezone.utc


async def test_unknown_fields_are_ignored(client: LaCaleClient, mock: aioresponses) -> None:
    mock.get(SEARCH, payload=[torrent_json(0, freeleech=True, extra={"a": 1})])
    [result] = await client.search("x")
    assert result.seeders == 42


@pytest.mark.parametrize(
    ("auth", "param"),
    [("query", "apikey"), ("passkey", "passkey")],
)
async def test_query_auth_modes_put_the_key_in_the_query(
    clock: FakeClock, mock: aioresponses, auth: str, param: str
) -> None:
    mock.get(SEARCH, payload=[])
    async with make_client(clock, auth=auth) as client:
        await client.search("x")
    [(_, url, kwargs)] = calls(mock)
    assert url.query[param] == API_KEY
    assert "X-Api-Key" not in kwargs["headers"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"query": "x" * 201}, "200"),
        ({"categories": ["c" * 65]}, "64"),
        ({"categories": [""]}, "non-empty"),
        ({"tmdb_id": "1" * 65}, "64"),
        ({"tmdb_id": True}, "tmdb_id"),
    ],
)
async def test_search_validation_happens_before_any_request(
    client: LaCaleClient, mock: aioresponses, kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(la.ValidationError, match=match) as info:
        await client.search(**kwargs)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, la.LaCaleError)
    assert sent_count(mock) == 0


async def test_search_query_of_exactly_200_characters_is_sent(
    client: LaCaleClient, mock: aioresponses
) -> None:
    mock.get(SEARCH, payload=[])
    await client.search("x" * 200)
    assert sent_count(mock) == 1


async def test_returned_lists_are_independent_copies(
    client: LaCaleClient, mock: aioresponses
) -> None:
    mock.get(SEARCH, payload=[torrent_json(0)])
    first = await client.search("x")
    first.clear()
    assert len(await client.search("x")) == 1
    assert sent_count(mock) == 1


# -- meta ----------------------------------------------------------------------------------


async def test_meta_tolerates_null_children_and_tags(
    client: LaCaleClient, mock: aioresponses
) -> None:
    mock.get(META, payload=META_JSON)
    meta = await client.meta()
    video = meta.categories[0]
    assert video.icon == "Film"
    assert video.parent_id is None
    assert [c.slug for c in video.children] == ["films", "series"]
    assert video.children[1].children == ()
    assert video.children[0].parent_id == "cat_video"
    assert meta.tag_groups[1].tags == ()
    assert meta.tag_groups[1].slug is None
    assert meta.tag_groups[0].order == 10
    assert meta.ungrouped_tags[0].slug == "vostfr"
    assert meta.find_category("series") is video.children[1]
    assert meta.find_category("cat_films") is video.children[0]
    assert meta.find_tag("1080p") is not None
    assert meta.find_tag("nope") is None


async def test_meta_is_cached_for_an_hour(
    client: LaCaleClient, mock: aioresponses, clock: FakeClock
) -> None:
    mock.get(META, payload=META_JSON, repeat=True)
    await client.meta()
    clock.advance(3599)
    await client.meta()
    assert sent_count(mock) == 1
    clock.advance(2)
    await client.meta()
    assert sent_count(mock) == 2


async def test_meta_missing_lists_are_empty(client: LaCaleClient, mock: aioresponses) -> None:
    mock.get(META, payload={"categories": [{"id": "a", "name": "A", "slug": "a"}]})
    meta = await client.meta()
    assert meta.tag_groups == ()
    assert meta.ungrouped_tags == ()


# -- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, la.BadRequestError),
        (401, la.AuthenticationError),
        (403, la.PermissionDeniedError),
        (404, la.NotFoundError),
        (409, la.ConflictError),
        (422, la.BadRequestError),
        (418, la.APIError),
    ],
)
async def test_status_codes_map_to_error_classes(
    client: LaCaleClient, mock: aioresponses, status: int, cls: type[la.APIError]
) -> None:
    mock.get(SEARCH, status=status, payload={"error": "Clé API invalide"})
    with pytest.raises(cls) as info:
        await client.search("x")
    assert type(info.value) is cls
    assert info.value.status == status
    assert info.value.server_message == "Clé API invalide"
    assert "Clé API invalide" in str(info.value)
    assert sent_count(mock) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 520, 521, 522, 524])
async def test_5xx_and_cloudflare_52x_are_server_errors_retried_then_raised(
    clock: FakeClock, mock: aioresponses, status: int
) -> None:
    mock.get(
        SEARCH,
        status=status,
        body="<html><head><title>Web server is down</title></head></html>",
        content_type="text/html",
        repeat=True,
    )
    async with make_client(clock, max_retries=2) as client:
        with pytest.raises(la.ServerError) as info:
            await client.search("x")
        assert client.stats.endpoints["search"].retries == 2
    assert info.value.status == status
    assert "Web server is down" in str(info.value)
    assert sent_count(mock) == 3


async def test_plain_text_error_body_becomes_the_message(
    client: LaCaleClient, mock: aioresponses
) -> None:
    mock.get(SEARCH, status=400, body="requête trop longue", content_type="text/plain")
    with pytest.raises(la.BadRequestError, match="requête trop longue"):
        await client.search("x")


async def test_html_page_on_a_json_endpoint_is_a_response_error(
    client: LaCaleClient, mock: aioresponses
) -> None:
    mock.get(
        SEARCH,
        status=200,
        body="<!DOCTYPE html><html><title>Just a moment...</title></html>",
        content_type="text/html",
    )
    with pytest.raises(la.ResponseError, match=r"HTML page.*Just a moment"):
        await client.search("x")


@pytest.mark.parametrize(
    "body",
    ["not json", '{"title": 1}', '[{"title": "x"}]', '[{"size": "big"}]'],
)
async def test_bodies_that_are_not_what_search_promises(
    client: LaCaleClient, mock: aioresponses, body: str
) -> None:
    mock.get(SEARCH, status=200, body=body, content_type="application/json")
    with pytest.raises(la.ResponseError, match="not a JSON list of torrents"):
        await client.search("x")


async def test_connection_refused_is_retried_then_a_connect_error(
    clock: FakeClock, mock: aioresponses
) -> None:
    err = aiohttp.ClientConnectorError(
        aiohttp.client_reqrep.ConnectionKey("tracker.test", 443, True, True, None, None, None),
        OSError(111, "Connection refused"),
    )
    mock.get(SEARCH, exception=err, repeat=True)
    async with make_client(clock, max_retries=1) as client:
        with pytest.raises(la.ConnectError, match="Connection refused") as info:
            await client.search("x")
    assert isinstance(info.value, la.TransportError)
    assert info.value.__cause__ is None
    assert sent_count(mock) == 2


@pytest.mark.parametrize(
    ("exc", "cls"),
    [
        (aiohttp.ServerDisconnectedError(), la.TransportError),
        (aiohttp.ClientPayloadError("Response payload is not completed"), la.TransportError),
        (TimeoutError(), la.RequestTimeoutError),
        (aiohttp.ClientOSError(104, "Connection reset by peer"), la.TransportError),
    ],
)
async def test_transport_failures_map_to_transport_errors(
    clock: FakeClock, mock: aioresponses, exc: Exception, cls: type[la.TransportError]
) -> None:
    mock.get(SEARCH, exception=exc, repeat=True)
    async with make_client(clock, max_retries=0) as client:
        with pytest.raises(cls):
            await client.search("x")


async def test_get_retries_transient_failures_then_succeeds(
    clock: FakeClock, mock: aioresponses
) -> None:
    mock.get(SEARCH, status=503)
    mock.get(SEARCH, exception=aiohttp.ServerDisconnectedError())
    mock.get(SEARCH, payload=[torrent_json(0)])
    async with make_client(clock, max_retries=3) as client:
        start = clock.now()
        assert len(await client.search("x")) == 1
        stats = client.stats.endpoints["search"]
    assert stats.requests == 3
    assert stats.retries == 2
    # Exponential backoff: two waits, the second drawn from a larger range than the first.
    assert 0.25 <= clock.now() - start <= 0.5 + 1.0


async def test_429_honours_retry_after_seconds(clock: FakeClock, mock: aioresponses) -> None:
    mock.get(SEARCH, status=429, payload={"error": "slow down"}, headers={"Retry-After": "7"})
    mock.get(SEARCH, payload=[])
    async with make_client(clock) as client:
        start = clock.now()
        await client.search("x")
        assert client.stats.endpoints["search"].rate_limited == 1
    assert clock.now() - start == pytest.approx(7.0)


async def test_429_with_http_date_retry_after(clock: FakeClock, mock: aioresponses) -> None:
    mock.get(SEARCH, status=429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    mock.get(SEARCH, payload=[])
    async with make_client(clock) as client:
        await client.search("x")
    assert sent_count(mock) == 2


async def test_an_http_date_retry_after_is_read_on_the_clients_wall_clock(
    clock: FakeClock, mock: aioresponses
) -> None:
    # FakeClock's wall starts at 2026-01-01T00:00:00Z: the date is 9 s after it.
    mock.get(SEARCH, status=429, headers={"Retry-After": "Thu, 01 Jan 2026 00:00:09 GMT"})
    mock.get(SEARCH, payload=[])
    async with make_client(clock) as client:
        start = clock.now()
        await client.search("x")
    assert clock.now() - start == pytest.approx(9.0)


async def test_429_longer_than_max_retry_wait_raises_at_once(
    clock: FakeClock, mock: aioresponses
) -> None:
    mock.get(SEARCH, status=429, headers={"Retry-After": "3600"}, repeat=True)
    async with make_client(clock, max_retry_wait=60) as client:
        with pytest.raises(la.RateLimitError) as info:
            await client.search("x")
    assert info.value.retry_after == 3600
    assert "3600" in str(info.value)
    assert sent_count(mock) == 1


async def test_429_exhausting_retries_raises_rate_limit_error(
    clock: FakeClock, mock: aioresponses
) -> None:
    mock.get(SEARCH, status=429, repeat=True)
    async with make_client(clock, max_retries=2) as client:
        with pytest.raises(la.RateLimitError) as info:
            await client.search("x")
        assert client.stats.rate_limited == 3
    assert info.value.retry_after is None


async def test_errors_never_carry_the_key_in_query_mode(
    clock: FakeClock, mock: aioresponses
) -> None:
    mock.get(SEARCH, status=403, body=f"invalid key {API_KEY}", content_type="text/plain")
    mock.get(SEARCH, exception=aiohttp.ServerDisconnectedError(), repeat=True)
    async with make_client(clock, auth="query", max_retries=0) as client:
        for _ in range(2):
            with pytest.raises(la.LaCaleError) as info:
                await client.search("x")
            err = info.value
            assert_no_key(str(err))
            assert_no_key(repr(err))
            assert_no_key(repr(vars(err)))
            assert err.__cause__ is None
            assert err.__context__ is None or API_KEY not in str(err.__context__)


async def test_debug_logs_never_carry_the_key(
    clock: FakeClock, mock: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    mock.get(SEARCH, status=500)
    mock.get(SEARCH, payload=[])
    caplog.set_level(logging.DEBUG, logger="lacale_async")
    async with make_client(clock, auth="query") as client:
        await client.search("x")
    assert "apikey=***" in caplog.text
    assert "retry" in caplog.text
    assert_no_key(caplog.text)


async def test_oversized_answer_is_refused(clock: FakeClock, mock: aioresponses) -> None:
    mock.get(SEARCH, body="[" + " " * 5000 + "]", content_type="application/json")
    async with make_client(clock, max_body_size=1000, max_retries=3) as client:
        with pytest.raises(la.ResponseError, match="cap"):
            await client.search("x")
    # The same answer would come back: an over-cap answer is not retried.
    assert sent_count(mock) == 1


async def test_redirect_to_another_origin_is_not_followed(
    clock: FakeClock, mock: aioresponses
) -> None:
    mock.get(SEARCH, status=302, headers={"Location": "https://evil.test/steal"})
    mock.get("https://evil.test/steal", payload=[])
    async with make_client(clock, auth="query") as client:
        with pytest.raises(la.ResponseError, match="another origin"):
            await client.search("x")
    assert all(url.host == "tracker.test" for _, url, _ in calls(mock))


async def test_same_origin_redirect_is_followed(clock: FakeClock, mock: aioresponses) -> None:
    mock.get(SEARCH, status=301, headers={"Location": "/api/external?q=y"})
    mock.get(SEARCH, payload=[torrent_json(0)])
    async with make_client(clock) as client:
        assert len(await client.search("x")) == 1


# -- upload --------------------------------------------------------------------------------


def form_fields(kwargs: dict[str, Any]) -> list[tuple[str, Any, dict[str, str]]]:
    data: aiohttp.FormData = kwargs["data"]
    return [(opts["name"], value, dict(opts)) for opts, _headers, value in data._fields]


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
    clock: FakeClock, mock: aioresponses
) -> None:
    mock.get(META, payload=META_JSON)
    mock.post(UPLOAD, payload={"success": True, "id": "1", "slug": "s", "link": "l"})
    async with make_client(clock, auth="passkey") as client:
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


@pytest.mark.parametrize("status", [500, 502, 521])
async def test_upload_5xx_is_not_retried_and_says_outcome_unknown(
    client: LaCaleClient, mock: aioresponses, status: int
) -> None:
    mock.get(META, payload=META_JSON)
    mock.post(UPLOAD, status=status, repeat=True)
    with pytest.raises(la.ServerError, match="may or may not") as info:
        await client.upload(title="T", category="films", torrent=make_torrent())
    assert info.value.outcome_unknown
    assert len([c for c in calls(mock) if c[0] == "POST"]) == 1


@pytest.mark.parametrize(
    "exc", [TimeoutError(), aiohttp.ServerDisconnectedError(), aiohttp.ClientPayloadError("cut")]
)
async def test_upload_failure_after_sending_is_not_retried(
    client: LaCaleClient, mock: aioresponses, exc: Exception
) -> None:
    mock.get(META, payload=META_JSON)
    mock.post(UPLOAD, exception=exc, repeat=True)
    with pytest.raises(la.TransportError, match="may or may not") as info:
        await client.upload(title="T", category="films", torrent=make_torrent())
    assert info.value.outcome_unknown
    assert len([c for c in calls(mock) if c[0] == "POST"]) == 1


async def test_upload_is_retried_on_429_and_on_connection_failure(
    client: LaCaleClient, mock: aioresponses
) -> None:
    refused = aiohttp.ClientConnectorError(
        aiohttp.client_reqrep.ConnectionKey("tracker.test", 443, True, True, None, None, None),
        OSError(111, "Connection refused"),
    )
    mock.get(META, payload=META_JSON)
    mock.post(UPLOAD, status=429, headers={"Retry-After": "1"})
    mock.post(UPLOAD, exception=refused)
    mock.post(UPLOAD, payload={"success": True, "id": "1", "slug": "s", "link": "l"})
    result = await client.upload(title="T", category="films", torrent=make_torrent())
    assert result.id == "1"
    assert len([c for c in calls(mock) if c[0] == "POST"]) == 3


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


async def test_upload_refuse_policy_sends_nothing(clock: FakeClock, mock: aioresponses) -> None:
    mock.get(META, payload=META_JSON)
    async with make_client(clock, source_policy="refuse") as client:
        with pytest.raises(la.ValidationError, match="source"):
            await client.upload(title="T", category="films", torrent=make_torrent(source=None))
    assert sent_count(mock) == 0


# -- download ------------------------------------------------------------------------------


async def test_download_checks_the_info_hash(client: LaCaleClient, mock: aioresponses) -> None:
    torrent = make_torrent()
    good = info_hash_of(torrent)
    mock.get(DOWNLOAD, body=torrent, content_type="application/x-bittorrent")
    assert await client.download(good.upper()) == torrent
    mock.get(DOWNLOAD, body=torrent, content_type="application/x-bittorrent")
    with pytest.raises(la.IntegrityError):
        await client.download("f" * 40)
    mock.get(DOWNLOAD, body="<html>login</html>", content_type="text/html")
    with pytest.raises(la.IntegrityError):
        await client.download(good)


@pytest.mark.parametrize("bad", ["abc", "g" * 40, "a" * 41, "", "../../etc/passwd"])
async def test_download_rejects_malformed_hashes_before_sending(
    client: LaCaleClient, mock: aioresponses, bad: str
) -> None:
    with pytest.raises(la.ValidationError):
        await client.download(bad)
    assert sent_count(mock) == 0


async def test_download_accepts_v2_hashes(client: LaCaleClient, mock: aioresponses) -> None:
    mock.get(DOWNLOAD, status=404, payload={"error": "Torrent introuvable"})
    with pytest.raises(la.NotFoundError, match="introuvable"):
        await client.download("a" * 64)


async def test_download_to_writes_atomically_into_a_folder(
    client: LaCaleClient, mock: aioresponses, tmp_path: Path
) -> None:
    torrent = make_torrent("../../evil/Amélie")
    mock.get(DOWNLOAD, body=torrent, content_type="application/x-bittorrent", repeat=True)
    path = await client.download_to(info_hash_of(torrent), tmp_path)
    assert path.parent == tmp_path
    assert path.read_bytes() == torrent
    assert path.name.endswith(".torrent")
    assert sorted(os.listdir(tmp_path)) == [path.name]
    with pytest.raises(la.DestinationExistsError):
        await client.download_to(info_hash_of(torrent), tmp_path)
    again = await client.download_to(info_hash_of(torrent), tmp_path, overwrite=True)
    assert again == path


async def test_download_to_existing_file_fails_before_the_request(
    client: LaCaleClient, mock: aioresponses, tmp_path: Path
) -> None:
    target = tmp_path / "x.torrent"
    target.write_bytes(b"keep me")
    with pytest.raises(la.DestinationExistsError):
        await client.download_to("a" * 40, target)
    assert sent_count(mock) == 0
    assert target.read_bytes() == b"keep me"


async def test_download_to_integrity_failure_leaves_nothing(
    client: LaCaleClient, mock: aioresponses, tmp_path: Path
) -> None:
    mock.get(DOWNLOAD, body=make_torrent(), content_type="application/x-bittorrent")
    with pytest.raises(la.IntegrityError):
        await client.download_to("b" * 40, tmp_path / "x.torrent")
    assert os.listdir(tmp_path) == []


async def test_download_to_a_missing_folder_fails_before_the_request(
    client: LaCaleClient, mock: aioresponses, tmp_path: Path
) -> None:
    with pytest.raises(la.ValidationError, match="does not exist"):
        await client.download_to("a" * 40, f"{tmp_path}/missing/")
    with pytest.raises(la.ValidationError):
        await client.download_to("a" * 40, tmp_path / "missing" / "x.torrent")
    assert sent_count(mock) == 0
    assert os.listdir(tmp_path) == []


class RefusingBackend(la.LocalBackend):
    def cache(self, **kwargs: Any) -> Any:
        raise la.BackendError("backend not opened")


async def test_a_backend_failure_at_open_leaks_no_session(clock: FakeClock) -> None:
    # pytest turns an "Unclosed client session" ResourceWarning into a failure.
    client = make_client(clock, backend=RefusingBackend())
    with pytest.raises(la.BackendError):
        await client.open()
    assert client.state is la.ClientState.UNOPENED
    gc.collect()


# -- hardening (found in review) -----------------------------------------------------------


async def test_server_text_echoing_the_key_is_scrubbed(
    clock: FakeClock, mock: aioresponses
) -> None:
    key = "abc+def/ghi-SECRET"
    mock.get(
        SEARCH,
        status=200,
        body=f"<html><title>Invalid request q=x&apikey={key}</title></html>",
        content_type="text/html",
    )
    mock.get(
        SEARCH,
        status=400,
        body="unknown key abc%2Bdef%2Fghi-SECRET",
        content_type="text/plain",
    )
    mock.get(META, payload=META_JSON)
    mock.post(UPLOAD, payload={"success": False, "error": f"passkey {key} is banned"})
    async with LaCaleClient(
        key,
        base_url=BASE,
        auth="query",
        clock=clock,
        max_retries=0,
        search_rate=None,
        meta_rate=None,
        upload_rate=None,
    ) as client:
        errors: list[la.LaCaleError] = []
        for _ in range(2):
            with pytest.raises(la.LaCaleError) as info:
                await client.search("x", cache="bypass")
            errors.append(info.value)
        with pytest.raises(la.UploadRejectedError) as rejected:
            await client.upload(title="T", category="films", torrent=make_torrent())
        errors.append(rejected.value)
    for err in errors:
        text = str(err) + repr(vars(err))
        assert "SECRET" not in text
        assert "abc%2B" not in text


async def test_deeply_nested_bodies_are_response_errors(
    client: LaCaleClient, mock: aioresponses
) -> None:
    deep = "[" * 200_000
    mock.get(SEARCH, status=200, body=deep, content_type="application/json")
    with pytest.raises(la.ResponseError):
        await client.search("x")
    mock.get(SEARCH, status=400, body='{"a":' + deep, content_type="application/json")
    with pytest.raises(la.BadRequestError):
        await client.search("y")


async def test_a_long_retry_after_never_stalls_later_calls(
    clock: FakeClock, mock: aioresponses
) -> None:
    mock.get(SEARCH, status=429, headers={"Retry-After": "86400"})
    mock.get(SEARCH, payload=[], repeat=True)
    # The endpoint limiter's share of the pause is capped (the key budget's is not: it pauses
    # the whole key until Retry-After, see test_quota.py).
    async with make_client(clock, search_rate=(5, 1.0), max_retry_wait=10, key_rate=None) as client:
        with pytest.raises(la.RateLimitError):
            await client.search("x")
        start = clock.now()
        await client.search("y")
    assert clock.now() - start <= 10.0 + 1e-6


@pytest.mark.parametrize(
    "queries",
    ["dune", [123], [la.SearchQuery(query="x" * 201)], [la.SearchQuery(tmdb_id=True)]],
)
async def test_search_many_refuses_bad_input(
    client: LaCaleClient, mock: aioresponses, queries: Any
) -> None:
    with pytest.raises(la.ValidationError):
        client.search_many(queries)
    assert sent_count(mock) == 0


async def test_search_many_accepts_category_lists(client: LaCaleClient, mock: aioresponses) -> None:
    mock.get(SEARCH, payload=[], repeat=True)
    query = la.SearchQuery(query="x", categories=["films", "series"])  # type: ignore[arg-type]
    queries = [query, la.SearchQuery(query="y", categories=None)]  # type: ignore[arg-type]
    outcomes = [o async for o in client.search_many(queries)]
    assert all(o.ok for o in outcomes)
    assert len(outcomes) == 2


@pytest.mark.parametrize(
    "kwargs",
    [
        {"categories": 5},
        {"categories": False},
        {"categories": ["films", "a\ud800"]},
        {"query": "caf\udce9"},
        {"categories": ["films,series"]},
        {"categories": ["two words"]},
    ],
)
async def test_more_search_input_is_refused_before_sending(
    client: LaCaleClient, mock: aioresponses, kwargs: dict[str, Any]
) -> None:
    with pytest.raises(la.ValidationError):
        await client.search(**kwargs)
    assert sent_count(mock) == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"title": "T\ud800"},
        {"description": "D\ud800"},
        {"description": 5},
        {"tags": ["ok", 5]},
        {"tags": 5},
        # Raised raw (ValueError, UnicodeEncodeError) instead of refusing before sending:
        pytest.param({"tmdb_id": 10**5000}, id="tmdb_id=10**5000"),
        {"tmdb_id": "\udcff"},
        {"cover_url": "https://image.test/\udcff"},
        {"cover_url": "https://[::1/c.jpg"},
        {"torrent": "bad\x00name.torrent"},
        {"nfo": "bad\x00name.nfo"},
        {"torrent": "bad\udcffname.torrent"},
    ],
)
async def test_more_upload_input_is_refused_before_sending(
    client: LaCaleClient, mock: aioresponses, kwargs: dict[str, Any]
) -> None:
    mock.get(META, payload=META_JSON, repeat=True)
    args: dict[str, Any] = {"title": "T", "category": "films", "torrent": make_torrent()}
    args.update(kwargs)
    with pytest.raises(la.ValidationError):
        await client.upload(**args)
    assert not [c for c in calls(mock) if c[0] == "POST"]
    assert client.stats.endpoints["upload"].requests == 0


async def test_upload_accepts_no_tags(client: LaCaleClient, mock: aioresponses) -> None:
    mock.get(META, payload=META_JSON)
    mock.post(UPLOAD, payload={"success": True, "id": "1", "slug": "s", "link": "l"})
    result = await client.upload(title="T", category="films", torrent=make_torrent(), tags=None)  # type: ignore[arg-type]
    assert result.success


@pytest.mark.parametrize(
    "kwargs",
    [
        {"user_agent": "bot\r\nX-Evil: 1"},
        {"max_body_size": "16M"},
        {"timeout": "5"},
        {"base_url": "https://la-cale.space:99999"},
        {"base_url": "http://[::1"},
        {"base_url": "https://exa mple.com"},
        {"max_retry_wait": -1},
        {"cache_size": True},
    ],
)
def test_more_bad_options_fail_at_construction(kwargs: dict[str, Any]) -> None:
    options: dict[str, Any] = {"base_url": BASE}
    options.update(kwargs)
    with pytest.raises(la.ConfigurationError):
        LaCaleClient(API_KEY, **options)


async def test_a_connect_timeout_is_a_connect_error_and_upload_retries(
    client: LaCaleClient, mock: aioresponses
) -> None:
    mock.get(META, payload=META_JSON)
    mock.post(UPLOAD, exception=aiohttp.ConnectionTimeoutError("Connection timeout to host x"))
    mock.post(UPLOAD, payload={"success": True, "id": "1", "slug": "s", "link": "l"})
    result = await client.upload(title="T", category="films", torrent=make_torrent())
    assert result.id == "1"
    assert len([c for c in calls(mock) if c[0] == "POST"]) == 2


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


async def test_redirect_does_not_duplicate_query_parameters(
    clock: FakeClock, mock: aioresponses
) -> None:
    mock.get(SEARCH, status=302, headers={"Location": "/api/external?q=moved"})
    mock.get(SEARCH, payload=[])
    async with make_client(clock, auth="query") as client:
        await client.search("x")
    second = calls(mock)[1][1]
    assert second.query.getall("q") == ["moved"]
    assert second.query.getall("apikey") == [API_KEY]


async def test_meta_refuses_an_unknown_cache_mode(client: LaCaleClient, mock: aioresponses) -> None:
    with pytest.raises(la.ValidationError):
        await client.meta(cache="bogus")  # type: ignore[arg-type]
    assert sent_count(mock) == 0


async def test_download_to_an_unwritable_name_is_a_storage_error(
    client: LaCaleClient, mock: aioresponses, tmp_path: Path
) -> None:
    with pytest.raises(la.StorageError) as info:
        await client.download_to("a" * 40, tmp_path / ("x" * 300 + ".torrent"))
    assert isinstance(info.value, OSError)
    assert sent_count(mock) == 0
