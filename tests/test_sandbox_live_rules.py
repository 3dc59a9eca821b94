"""The sandbox's live profile: download tokens, the details page, upload rules, the key budget."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from conftest import info_hash_of, make_torrent

from lacale_async import FakeClock
from lacale_async._download_link import token_expiry
from lacale_async.testing import RateLimit, SandboxConfig, SandboxServer

pytestmark = pytest.mark.integration

WALL = 1_780_000_000.0


class Wall:
    """A wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = WALL

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def wall() -> Wall:
    return Wall()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(0, auto_advance=False)


def config(clock: FakeClock, wall: Wall, **kwargs: Any) -> SandboxConfig:
    return SandboxConfig(clock=clock, wall_clock=wall, download_token_ttl=600, **kwargs)


@pytest.fixture
async def sandbox(clock: FakeClock, wall: Wall) -> AsyncIterator[SandboxServer]:
    async with SandboxServer(config(clock, wall)) as server:
        yield server


@pytest.fixture
async def anonymous(sandbox: SandboxServer) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=sandbox.base_url) as session:
        yield session


async def first_item(sandbox: SandboxServer, query: str = "FRENCH") -> dict[str, Any]:
    headers = {"X-Api-Key": sandbox.api_key}
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{sandbox.base_url}/api/external", params={"q": query}, headers=headers) as r,
    ):
        assert r.status == 200
        items: list[dict[str, Any]] = await r.json()
    return items[0]


async def fetch(session: aiohttp.ClientSession, url: str) -> tuple[int, bytes]:
    async with session.get(url) as response:
        return response.status, await response.read()


# -- download tokens --------------------------------------------------------------------------


async def test_a_download_link_serves_the_torrent_without_a_key(
    sandbox: SandboxServer, anonymous: aiohttp.ClientSession
) -> None:
    item = await first_item(sandbox)
    status, body = await fetch(anonymous, item["downloadLink"])
    assert status == 200
    assert info_hash_of(body) == item["infoHash"]
    last = sandbox.requests[-1]
    assert (last.endpoint, last.auth_via, last.key_name) == ("download", None, "default")
    assert last.param("token") == ["***"]
    token = item["downloadLink"].split("token=")[1]
    assert token_expiry(token) == WALL + 600
    assert token not in repr(sandbox.requests)


async def test_an_expired_forged_or_borrowed_token_is_401(
    sandbox: SandboxServer, anonymous: aiohttp.ClientSession, wall: Wall
) -> None:
    item = await first_item(sandbox)
    link = item["downloadLink"]
    other = next(t for t in sandbox.catalogue if t.approved and t.info_hash != item["infoHash"])
    borrowed = link.replace(item["infoHash"], other.info_hash)
    forged = link[:-3] + ("aaa" if not link.endswith("aaa") else "bbb")
    for url in (borrowed, forged, link.split("?")[0], link.split("token=")[0] + "token=x.y.z"):
        status, body = await fetch(anonymous, url)
        assert status == 401, url
        assert b"invalide" in body
    wall.now += 600
    assert (await fetch(anonymous, link))[0] == 401


async def test_a_token_download_counts_against_its_key(clock: FakeClock, wall: Wall) -> None:
    limits = {"download": RateLimit(1, 60)}
    async with (
        SandboxServer(config(clock, wall, key_limits=limits)) as sandbox,
        aiohttp.ClientSession() as session,
    ):
        item = await first_item(sandbox)
        assert (await fetch(session, item["downloadLink"]))[0] == 200
        status, _ = await fetch(session, item["downloadLink"])
        assert status == 429
        assert sandbox.throttled == {("download", "key"): 1}


async def test_the_page_link_is_served(
    sandbox: SandboxServer, anonymous: aiohttp.ClientSession
) -> None:
    item = await first_item(sandbox)
    async with anonymous.get(item["link"]) as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        page = await response.text()
    assert item["infoHash"] in page
    assert "<script" not in page
    async with anonymous.get("/torrents/zzzzzzzzzzzz") as response:
        assert response.status == 404


async def test_the_docs_profile_has_neither_tokens_nor_pages() -> None:
    async with (
        SandboxServer(SandboxConfig(profile="docs")) as sandbox,
        aiohttp.ClientSession(
            base_url=sandbox.base_url, headers={"X-Api-Key": sandbox.api_key}
        ) as session,
    ):
        async with session.get("/api/external", params={"q": "amelie"}) as response:
            [item, *_] = await response.json()
        assert "downloadLink" not in item
        assert item["link"].endswith(f"/api/torrents/download/{item['infoHash']}")
        for path in (f"/api/download/{item['infoHash']}?token=x", "/torrents/abc"):
            assert (await fetch(session, path))[0] == 404


# -- upload rules -----------------------------------------------------------------------------


def upload_form(sandbox: SandboxServer, name: str, **extra: Any) -> aiohttp.FormData:
    films = sandbox.catalogue.taxonomy.by_slug("films")
    assert films is not None
    data = aiohttp.FormData()
    data.add_field("title", name)
    data.add_field("categoryId", films.id)
    for field, values in extra.items():
        for value in values:
            if isinstance(value, bytes):
                data.add_field(field, value, filename=f"{field}.bin")
            else:
                data.add_field(field, value)
    data.add_field("file", make_torrent(name), filename="t.torrent")
    return data


async def post(sandbox: SandboxServer, form: aiohttp.FormData) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{sandbox.base_url}/api/external/upload",
            data=form,
            headers={"X-Api-Key": sandbox.api_key},
        ) as response,
    ):
        return response.status, await response.json()


async def test_an_upload_without_nfo_is_refused_unless_switched_off(
    clock: FakeClock, wall: Wall
) -> None:
    async with SandboxServer(config(clock, wall)) as sandbox:
        status, body = await post(sandbox, upload_form(sandbox, "Sans.NFO.2024"))
        assert status == 400
        assert "nfoFile" in body["error"]
        assert sandbox.uploads == []
    async with SandboxServer(config(clock, wall, require_nfo=False)) as sandbox:
        assert (await post(sandbox, upload_form(sandbox, "Sans.NFO.2024")))[0] == 200


async def test_unlisted_tag_ids_are_accepted_a_json_array_is_a_500(
    sandbox: SandboxServer, wall: Wall
) -> None:
    taxonomy = sandbox.catalogue.taxonomy
    hidden = taxonomy.tag_by_slug("1080p")
    listed = taxonomy.tag_by_slug("lossless")
    assert hidden is not None
    assert listed is not None
    nfo = {"nfoFile": [b"NFO de la release"]}
    tags = [hidden.id, listed.id]
    status, body = await post(sandbox, upload_form(sandbox, "Tags.OK", tags=tags, **nfo))
    assert status == 200
    assert sandbox.uploads[-1].tag_ids == tuple(tags)
    # A live upload answers a page link and an xid minted now.
    assert re.fullmatch(r"[0-9a-v]{20}", body["id"])
    assert body["link"].endswith(f"/torrents/{body['slug']}")
    assert re.fullmatch(r"[0-9a-z]{12}", body["slug"])
    array = f'["{hidden.id}", "{listed.id}"]'
    status, _ = await post(sandbox, upload_form(sandbox, "Tags.Array", tags=[array], **nfo))
    assert status == 500
    status, body = await post(sandbox, upload_form(sandbox, "Tags.Bad", tags=["nope"], **nfo))
    assert status == 400
    assert "Tag inconnu" in body["error"]


# -- the key-wide budget ----------------------------------------------------------------------


async def test_the_key_budget_spans_every_endpoint(clock: FakeClock, wall: Wall) -> None:
    budget = (RateLimit(3, 10.0), RateLimit(5, 100.0))
    async with (
        SandboxServer(config(clock, wall, key_budget=budget)) as sandbox,
        aiohttp.ClientSession(headers={"X-Api-Key": sandbox.api_key}) as session,
    ):
        base = sandbox.base_url
        paths = ["/api/external/meta", "/api/external?q=amelie", "/api/external/meta"]
        assert [(await fetch(session, base + p))[0] for p in paths] == [200, 200, 200]
        async with session.get(f"{base}/api/external/meta") as response:
            assert response.status == 429
            assert response.headers["Retry-After"] == "10"
            assert "Quota" in (await response.json())["error"]
        assert sandbox.throttled == {("meta", "budget"): 1}
        other = sandbox.add_key("bob")
        async with session.get(f"{base}/api/external/meta", headers={"X-Api-Key": other}) as r:
            assert r.status == 200, "another key has its own budget"
        clock.advance(10)
        assert [(await fetch(session, base + p))[0] for p in paths] == [200, 200, 429]
        async with session.get(f"{base}/api/external/meta") as response:
            assert response.headers["Retry-After"] == "90", "the long window is the limit now"


async def test_the_client_with_a_scaled_budget_meets_no_429(wall: Wall) -> None:
    budget = (RateLimit(4, 1.0),)
    cfg = SandboxConfig(key_budget=budget, wall_clock=wall)
    async with SandboxServer(cfg) as sandbox:
        # Until the client knows the key-wide budget, the search rate alone keeps under it.
        async with sandbox.client(search_rate=(4, 1.0), cache_ttl=0, max_retries=0) as client:
            for i in range(8):
                await client.search(f"q{i}")
        assert sandbox.throttled_total == 0
