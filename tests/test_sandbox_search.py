"""GET /api/external on a live sandbox: auth, filters, order, limits and the server cache."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import pytest

from lacale_async import FakeClock, ValidationError
from lacale_async.testing import CatalogueTorrent, SandboxConfig, SandboxServer, normalise

pytest_plugins = ["_sandbox_http"]
pytestmark = pytest.mark.integration

RESULT_KEYS = {
    "title",
    "guid",
    "size",
    "pubDate",
    "link",
    "category",
    "seeders",
    "leechers",
    "infoHash",
}


async def search(http: aiohttp.ClientSession, params: Any = None) -> list[dict[str, Any]]:
    async with http.get("/api/external", params=params) as response:
        assert response.status == 200, await response.text()
        assert response.content_type == "application/json"
        body: list[dict[str, Any]] = await response.json()
        return body


def approved(sandbox: SandboxServer) -> list[CatalogueTorrent]:
    return [t for t in sandbox.catalogue if t.approved]


def newest_first(torrents: list[CatalogueTorrent]) -> list[str]:
    ordered = sorted(torrents, key=lambda t: (t.published_ms, t.guid), reverse=True)
    return [t.guid for t in ordered[:50]]


# --- authentication ------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["header", "apikey", "passkey"])
async def test_each_documented_auth_mode_is_accepted(sandbox: SandboxServer, where: str) -> None:
    headers = {"X-Api-Key": sandbox.api_key} if where == "header" else {}
    params = {} if where == "header" else {where: sandbox.api_key}
    async with (
        aiohttp.ClientSession(base_url=sandbox.base_url) as session,
        session.get("/api/external", headers=headers, params=params) as response,
    ):
        assert response.status == 200
    assert sandbox.requests[-1].auth_via == where
    assert sandbox.requests[-1].key_name == "default"


@pytest.mark.parametrize(
    ("headers", "params", "status"),
    [
        ({}, {}, 401),
        ({"X-Api-Key": "   "}, {}, 401),
        ({}, {"apikey": ""}, 401),
        ({"X-Api-Key": "not-a-key"}, {}, 403),
        ({}, {"passkey": "not-a-key"}, 403),
    ],
)
async def test_missing_key_is_401_unknown_key_is_403(
    sandbox: SandboxServer, headers: dict[str, str], params: dict[str, str], status: int
) -> None:
    async with (
        aiohttp.ClientSession(base_url=sandbox.base_url) as session,
        session.get("/api/external", headers=headers, params=params) as response,
    ):
        assert response.status == status
        assert response.content_type == "application/json"
        body = await response.json()
    assert set(body) == {"error"}
    assert body["error"]
    assert "not-a-key" not in body["error"]


async def test_an_added_key_works_and_is_named(sandbox: SandboxServer) -> None:
    key = sandbox.add_key("alice")
    async with (
        aiohttp.ClientSession(base_url=sandbox.base_url) as session,
        session.get("/api/external", params={"apikey": key}) as response,
    ):
        assert response.status == 200
    assert sandbox.requests[-1].key_name == "alice"


# --- results -------------------------------------------------------------------------------


async def test_result_shape_follows_the_v2_doc(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    results = await search(http)
    assert len(results) == 50
    for item in results:
        assert set(item) == RESULT_KEYS
        assert re.fullmatch(r"[0-9a-f]{40}", item["infoHash"])
        assert item["link"] == f"{sandbox.base_url}/api/torrents/download/{item['infoHash']}"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", item["pubDate"])
        assert isinstance(item["size"], int)
        assert isinstance(item["seeders"], int)
        torrent = sandbox.catalogue.get(item["infoHash"])
        assert torrent is not None
        assert item["category"] == torrent.category.name
        assert item["guid"] == torrent.guid
        assert item["title"] == torrent.title


async def test_empty_search_is_the_50_newest_approved(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    results = await search(http)
    assert [r["guid"] for r in results] == newest_first(approved(sandbox))
    dates = [r["pubDate"] for r in results]
    assert dates == sorted(dates, reverse=True)


@pytest.mark.parametrize("query", ["Amélie", "amelie", "  AMELIE ", "AMÉLIE"])
async def test_query_is_normalised(
    sandbox: SandboxServer, http: aiohttp.ClientSession, query: str
) -> None:
    results = await search(http, {"q": query})
    expected = [t for t in approved(sandbox) if "amelie" in normalise(t.title)]
    assert expected, "the seeded catalogue has Amélie releases"
    assert [r["guid"] for r in results] == newest_first(expected)


async def test_every_word_must_match_and_dots_count_as_spaces(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    dotted = next(t for t in approved(sandbox) if re.search(r"\.S\d\dE\d\d\.", t.title))
    words = dotted.title.split(".")[:2]
    query = " ".join(words).lower()  # "breaking bad", not "Breaking.Bad"
    results = await search(http, {"q": query})
    assert dotted.guid in {r["guid"] for r in results}
    for item in results:
        assert all(normalise(w) in normalise(item["title"]) for w in words)
    assert await search(http, {"q": f"{query} zzzunlikelyzzz"}) == []


async def test_cat_filters_and_can_be_repeated(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    films = await search(http, {"cat": "films"})
    assert films
    assert {r["category"] for r in films} == {"Films"}
    both = await search(http, [("cat", "films"), ("cat", "presse")])
    assert {r["category"] for r in both} == {"Films", "Presse"}
    expected = [t for t in approved(sandbox) if t.category.slug in ("films", "presse")]
    assert [r["guid"] for r in both] == newest_first(expected)


async def test_parent_slug_covers_its_children(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    results = await search(http, {"cat": "ebooks"})
    expected = [t for t in approved(sandbox) if t.category.parent_id is not None]
    ebooks_parent = sandbox.catalogue.taxonomy.by_slug("ebooks")
    assert ebooks_parent is not None
    expected = [t for t in expected if t.category.parent_id == ebooks_parent.id]
    assert len({t.category.slug for t in expected}) == 6
    assert [r["guid"] for r in results] == newest_first(expected)


async def test_unknown_cat_is_400(http: aiohttp.ClientSession) -> None:
    async with http.get("/api/external", params={"cat": "films-hd"}) as response:
        assert response.status == 400
        assert "films-hd" in (await response.json())["error"]


async def test_tmdb_id_is_an_exact_match(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    film = next(t for t in approved(sandbox) if t.tmdb_id is not None)
    assert film.tmdb_id is not None
    results = await search(http, {"tmdbId": film.tmdb_id})
    expected = [t for t in approved(sandbox) if t.tmdb_id == film.tmdb_id]
    assert [r["guid"] for r in results] == newest_first(expected)
    # A prefix is not a match.
    assert await search(http, {"tmdbId": film.tmdb_id + "0000"}) == []


async def test_unapproved_torrents_are_never_returned(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    pending = [t for t in sandbox.catalogue if not t.approved]
    assert pending
    for torrent in pending[:5]:
        results = await search(http, {"q": torrent.title})
        assert torrent.guid not in {r["guid"] for r in results}
    for slug in ("films", "series", "music", "presse", "pc", "divers"):
        for item in await search(http, {"cat": slug}):
            found = sandbox.catalogue.get(item["infoHash"])
            assert found is not None
            assert found.approved


@pytest.mark.parametrize(
    ("name", "ok", "too_long"),
    [("q", "a" * 200, "a" * 201), ("cat", None, "x" * 65), ("tmdbId", "1" * 64, "1" * 65)],
)
async def test_length_limits(
    http: aiohttp.ClientSession, name: str, ok: str | None, too_long: str
) -> None:
    if ok is not None:
        async with http.get("/api/external", params={name: ok}) as response:
            assert response.status == 200
    async with http.get("/api/external", params={name: too_long}) as response:
        assert response.status == 400
        assert name in (await response.json())["error"]


# --- the server cache ----------------------------------------------------------------------


def _add_fake(sandbox: SandboxServer, title: str) -> CatalogueTorrent:
    template = next(t for t in sandbox.catalogue if t.category.slug == "films")
    fresh = CatalogueTorrent(
        guid="cfreshfreshfreshfreshfres",
        title=title,
        slug="fresh",
        category=template.category,
        size=1,
        seeders=1,
        leechers=0,
        published_ms=sandbox.catalogue.newest_ms + 1,
        info_hash="f" * 40,
        data=template.data,
    )
    sandbox.catalogue.add(fresh)
    return fresh


async def test_repeated_search_is_served_from_cache_until_the_ttl(
    sandbox: SandboxServer, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    before = await search(http, {"q": "amelie"})
    _add_fake(sandbox, "Amélie.2001.REMASTERED.2160p")
    clock.advance(29.9)
    assert await search(http, {"q": "  AMÉLIE"}) == before, "same normalised query: cached"
    # Another combination is computed now and sees the new torrent.
    other = await search(http, [("q", "amelie"), ("cat", "films")])
    assert other[0]["title"] == "Amélie.2001.REMASTERED.2160p"
    clock.advance(0.1)
    after = await search(http, {"q": "amelie"})
    assert after[0]["title"] == "Amélie.2001.REMASTERED.2160p"
    assert after[1:] == before[: len(after) - 1]


async def test_cache_is_per_key(sandbox: SandboxServer, http: aiohttp.ClientSession) -> None:
    await search(http, {"q": "amelie"})
    _add_fake(sandbox, "Amélie.NEW")
    other_key = sandbox.add_key()
    async with (
        aiohttp.ClientSession(base_url=sandbox.base_url) as session,
        session.get("/api/external", params={"q": "amelie", "apikey": other_key}) as response,
    ):
        fresh = await response.json()
    assert fresh[0]["title"] == "Amélie.NEW"
    assert (await search(http, {"q": "amelie"}))[0]["title"] != "Amélie.NEW"


async def test_cache_headers_tell_the_remaining_lifetime(
    http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    async with http.get("/api/external", params={"q": "lupin"}) as response:
        assert response.headers["Cache-Control"] == "private, max-age=30"
        assert response.headers["Age"] == "0"
    clock.advance(12.5)
    async with http.get("/api/external", params={"q": "lupin"}) as response:
        assert response.headers["Cache-Control"] == "private, max-age=30"
        assert response.headers["Age"] == "12"
    clock.advance(17.5)
    async with http.get("/api/external", params={"q": "lupin"}) as response:
        assert response.headers["Age"] == "0", "expired: computed again"


async def test_cache_headers_can_be_turned_off_and_ttl_zero_disables_the_cache() -> None:
    config = SandboxConfig(
        cache_headers=False, clock=FakeClock(0, auto_advance=False), profile="docs"
    )
    async with SandboxServer(config) as sandbox, aiohttp.ClientSession() as session:
        url = f"{sandbox.base_url}/api/external?apikey={sandbox.api_key}"
        async with session.get(url) as response:
            assert "Cache-Control" not in response.headers
            assert "Age" not in response.headers
    config = SandboxConfig(cache_ttl=0, clock=FakeClock(0, auto_advance=False), profile="docs")
    async with SandboxServer(config) as sandbox, aiohttp.ClientSession() as session:
        url = f"{sandbox.base_url}/api/external?apikey={sandbox.api_key}"
        async with session.get(url) as response:
            assert response.headers["Cache-Control"] == "no-store"
        _add_fake(sandbox, "Visible.At.Once")
        async with session.get(url) as response:
            assert (await response.json())[0]["title"] == "Visible.At.Once"


@pytest.mark.parametrize("bad", [None, 5, b"amelie", ["amelie"]])
def test_normalise_takes_a_string(bad: object) -> None:
    # It raised a raw AttributeError (.casefold()).
    with pytest.raises(ValidationError, match="normalise"):
        normalise(bad)  # type: ignore[arg-type]
