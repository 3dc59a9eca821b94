"""Answers that are not what the endpoint promises: refused, and never cached."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from _mocked import META, SEARCH, UPLOAD, offline_client
from aioresponses import aioresponses
from conftest import META_JSON, make_torrent, torrent_json

import lacale_async as la
from lacale_async import LaCaleClient

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


@pytest.fixture
def mock() -> Iterator[aioresponses]:
    with aioresponses() as m:
        yield m


@pytest.fixture
async def client() -> AsyncIterator[LaCaleClient]:
    async with offline_client(max_retries=0) as c:
        yield c


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
