"""Reading answers (``_responses``): error classes by status, bad bodies refused, never cached."""

from __future__ import annotations

from typing import Any

import pytest
from _live_samples import LIVE_AUTH_ERROR
from _mocked import CHALLENGE, META, SEARCH, UPLOAD, sent
from _sandboxed import UNLIMITED, is_live, tracker_client
from aioresponses import aioresponses
from conftest import API_KEY, META_JSON, make_torrent, torrent_json

import lacale_async as la
from lacale_async import LaCaleClient
from lacale_async.testing import Fault, SandboxServer

pytest_plugins = ["_mocked", "_sandboxed"]

NOT_META: list[Any] = [
    {"error": "Service en maintenance"},
    {},
    {"tagGroups": [], "ungroupedTags": []},
    {"categories": None},
    {"message": "ok", "data": {"categories": []}},
]
NOT_A_SEARCH: list[Any] = [
    {"error": "Service en maintenance"},
    {},
    {"torrents": [torrent_json()]},
    None,
    "results",
]


@pytest.mark.parametrize("body", NOT_META)
async def test_a_200_meta_that_is_not_a_meta_object_is_refused_and_not_cached(
    client: LaCaleClient, mock: aioresponses, body: Any
) -> None:
    mock.get(META, payload=body)
    mock.get(META, payload=META_JSON)
    with pytest.raises(la.ResponseError, match="meta"):
        await client.meta()
    # The server recovered: the next call asks again instead of serving a cached empty Meta.
    assert (await client.meta()).find_category("films") is not None


async def test_a_meta_error_object_is_quoted(client: LaCaleClient, mock: aioresponses) -> None:
    mock.get(META, payload={"error": "Service en maintenance"})
    with pytest.raises(la.ResponseError, match="Service en maintenance"):
        await client.meta()


async def test_an_upload_by_slug_after_a_bad_meta_answer_works_once_the_server_recovers(
    client: LaCaleClient, mock: aioresponses
) -> None:
    mock.get(META, payload={"error": "Service en maintenance"})
    mock.get(META, payload=META_JSON)
    mock.post(UPLOAD, payload={"success": True, "id": "1", "slug": "s", "link": "l"})
    with pytest.raises(la.ResponseError):
        await client.upload(title="T", category="films", torrent=make_torrent())
    result = await client.upload(title="T", category="films", torrent=make_torrent())
    assert result.success


@pytest.mark.parametrize("body", NOT_A_SEARCH)
async def test_a_200_search_that_is_not_a_json_array_is_refused_and_not_cached(
    client: LaCaleClient, mock: aioresponses, body: Any
) -> None:
    mock.get(SEARCH, payload=body)
    mock.get(SEARCH, payload=[torrent_json()])
    with pytest.raises(la.ResponseError, match="list of torrents"):
        await client.search("x")
    assert len(await client.search("x")) == 1


# -- the network faked at the HTTP boundary ----------------------------------------------


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
    assert sent(mock) == 1


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


# -- answers shaped like the live tracker's ----------------------------------------------


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
    live_client: LaCaleClient,
    mock: aioresponses,
    status: int,
    payload: dict[str, str],
    cls: type[la.APIError],
    said: str,
) -> None:
    mock.get(SEARCH, status=status, payload=payload)
    with pytest.raises(cls, match=said) as info:
        await live_client.search("x")
    assert info.value.status == status
    assert API_KEY not in str(info.value)


@pytest.mark.parametrize("status", [403, 503])
async def test_a_challenge_page_is_named_a_cloudflare_challenge(
    live_client: LaCaleClient, mock: aioresponses, status: int
) -> None:
    mock.get(SEARCH, status=status, body=CHALLENGE, content_type="text/html")
    with pytest.raises(la.APIError, match="Cloudflare challenge") as info:
        await live_client.search("x")
    assert info.value.status == status


async def test_a_503_that_is_not_a_challenge_stays_a_server_error(
    live_client: LaCaleClient, mock: aioresponses
) -> None:
    mock.get(SEARCH, status=503, payload={"error": "Service indisponible"})
    with pytest.raises(la.ServerError) as info:
        await live_client.search("x")
    assert "Cloudflare" not in str(info.value)


# -- the sandbox on 127.0.0.1, in both profiles ------------------------------------------


@pytest.mark.integration
async def test_unknown_key_is_refused_in_the_profiles_words(tracker: SandboxServer) -> None:
    async with LaCaleClient("wrong-key", base_url=tracker.base_url, **UNLIMITED) as client:
        with pytest.raises(la.APIError, match="API key was refused") as info:
            await client.search("x")
    # Live: 401 "Invalid API key"; documented: 403 "Clé API invalide".
    expected = la.AuthenticationError if is_live(tracker) else la.PermissionDeniedError
    assert type(info.value) is expected
    assert info.value.status == (401 if is_live(tracker) else 403)


@pytest.mark.integration
@pytest.mark.parametrize(
    ("fault", "times", "error"),
    [
        (Fault.cloudflare(521), None, la.ServerError),
        (Fault.html_challenge(), 1, la.ResponseError),
        (Fault.html_challenge(403), 1, la.PermissionDeniedError),
        (Fault.access_denied(), 1, la.PermissionDeniedError),
        (Fault.invalid_json(), 1, la.ResponseError),
        (Fault.truncated(), None, la.TransportError),
        (Fault.drop(), None, la.TransportError),
    ],
)
async def test_faults_become_typed_errors(
    tracker: SandboxServer, fault: Fault, times: int | None, error: type[la.LaCaleError]
) -> None:
    tracker.faults.add(fault, endpoint="search", times=times)
    async with tracker_client(tracker, max_retries=1) as client:
        with pytest.raises(error) as info:
            await client.search("x")
    if fault.status == 403:
        said = "Cloudflare challenge" if fault.content_type == "text/html" else "blocked"
        assert said in str(info.value)
