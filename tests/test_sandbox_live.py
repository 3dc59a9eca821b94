"""The sandbox's live profile (the default): taxonomy, search and errors as the tracker gave."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import pytest

from lacale_async import ConfigurationError
from lacale_async._uploads import looks_like_id
from lacale_async.testing import (
    LIVE_KEY_BUDGET,
    Catalogue,
    Profile,
    RateLimit,
    SandboxConfig,
    SandboxServer,
    client_key_rate,
)

pytest_plugins = ["_sandbox_http"]
pytestmark = pytest.mark.integration

XID = re.compile(r"[0-9a-v]{20}")
CUID = re.compile(r"c[0-9a-z]{24}")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


@pytest.fixture
def sandbox_profile() -> Profile:
    return "live"


async def get(http: aiohttp.ClientSession, path: str, **params: Any) -> tuple[int, Any]:
    async with http.get(path, params=params) as response:
        return response.status, await response.json()


def walk(category: dict[str, Any]) -> list[dict[str, Any]]:
    return [category, *(c for child in category["children"] or () for c in walk(child))]


# -- /meta ------------------------------------------------------------------------------------


async def test_meta_is_the_recorded_tree(http: aiohttp.ClientSession) -> None:
    status, meta = await get(http, "/api/external/meta")
    assert status == 200
    roots = meta["categories"]
    assert [r["slug"] for r in roots] == [
        "autres", "video", "audio", "e-books", "applications", "games", "xxx",
    ]  # fmt: skip
    autres, xxx = roots[0], roots[-1]
    assert (autres["children"], xxx["children"]) == (None, None)
    every = [c for root in roots for c in walk(root)]
    names = {c["slug"]: c["name"] for c in every}
    assert names["films"] == "Films"
    assert names["pc"] == "PC"
    assert names["series"] == "Séries TV"
    assert "Films HD" not in names.values()
    music = next(c for c in every if c["slug"] == "music")
    assert [c["slug"] for c in music["children"]] == ["flac", "m4a", "mp3"]
    software = next(c for c in every if c["slug"] == "software")
    assert [c["slug"] for c in software["children"]] == ["linux"]
    assert all(c["children"] is None for c in every if c["slug"] in {"flac", "linux", "films"})
    assert {"t-l-phones", "spectacles-concerts", "e-books"} <= set(names)


async def test_meta_ids_come_in_the_three_recorded_shapes(http: aiohttp.ClientSession) -> None:
    _, meta = await get(http, "/api/external/meta")
    every = [c for root in meta["categories"] for c in walk(root)]
    ids = [c["id"] for c in every] + [g["id"] for g in meta["tagGroups"]]
    by_slug = {c["slug"]: c["id"] for c in every}
    assert CUID.fullmatch(by_slug["films"])
    assert XID.fullmatch(by_slug["sports"])
    groups = {g["slug"]: g for g in meta["tagGroups"]}
    assert UUID.fullmatch(groups["caract-ristiques-vid-o"]["id"])
    assert all(looks_like_id(i) for i in ids)
    assert len(set(ids)) == len(ids)


async def test_most_tag_groups_list_no_tags(http: aiohttp.ClientSession) -> None:
    _, meta = await get(http, "/api/external/meta")
    groups = meta["tagGroups"]
    listed = [g for g in groups if g["tags"] is not None]
    assert len(listed) == 8
    assert len(groups) > 2 * len(listed)
    assert {g["slug"] for g in listed} >= {"qualit-bitrate", "plateforme-logiciels"}
    assert all(g["tags"] for g in listed)
    assert [g["order"] for g in groups] == sorted(g["order"] for g in groups)
    assert {"qualit-r-solution", "cat-gories", "codec-vid-o"} <= {g["slug"] for g in groups}
    ungrouped = {t["slug"] for t in meta["ungroupedTags"]}
    assert {"vostfr", "pisodes", "conomie", "integrale"} <= ungrouped


async def test_unlisted_tags_exist_server_side(sandbox: SandboxServer) -> None:
    taxonomy = sandbox.catalogue.taxonomy
    hidden = [t for g in taxonomy.tag_groups if not g.listed for t in g.tags]
    assert {"1080p", "x265", "bluray"} <= {t.slug for t in hidden}
    assert {t.id for t in hidden} <= taxonomy.tag_ids()


# -- search -----------------------------------------------------------------------------------


@pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": " . "}, {"cat": "films"}])
async def test_a_search_without_keywords_is_400(
    http: aiohttp.ClientSession, params: dict[str, str]
) -> None:
    status, body = await get(http, "/api/external", **params)
    assert status == 400
    assert "q" in body["error"]


async def test_items_carry_a_page_link_and_a_download_link(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    status, items = await get(http, "/api/external", q="FRENCH")
    assert status == 200
    assert 0 < len(items) <= 50
    base = sandbox.base_url
    for item in items:
        assert set(item) == {
            "title", "guid", "size", "pubDate", "link", "downloadLink", "category", "seeders",
            "leechers", "infoHash",
        }  # fmt: skip
        assert re.fullmatch(re.escape(base) + r"/torrents/[0-9a-z]{12}", item["link"])
        prefix = f"{base}/api/download/{item['infoHash']}?token="
        assert item["downloadLink"].startswith(prefix)
        assert item["downloadLink"][len(prefix) :].count(".") == 2  # a JWT
        assert item["category"] in {c.name for c in sandbox.catalogue.taxonomy.categories()}


async def test_guids_are_cuids_before_2026_and_xids_after(sandbox: SandboxServer) -> None:
    torrents = list(sandbox.catalogue)
    older = [t for t in torrents if t.pub_date < "2026-01-02"]
    newer = [t for t in torrents if t.pub_date >= "2026-01-03"]
    assert older
    assert newer
    assert all(CUID.fullmatch(t.guid) for t in older)
    assert all(XID.fullmatch(t.guid) for t in newer)


async def test_a_parent_category_does_not_cover_its_children(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    in_flac = [t for t in sandbox.catalogue if t.approved and t.category.slug == "flac"]
    assert in_flac
    _, by_parent = await get(http, "/api/external", q=in_flac[0].title[:20], cat="music")
    assert in_flac[0].guid not in {i["guid"] for i in by_parent}
    _, by_leaf = await get(http, "/api/external", q=in_flac[0].title[:20], cat="flac")
    assert in_flac[0].guid in {i["guid"] for i in by_leaf}


async def test_a_tmdb_id_alone_is_accepted(http: aiohttp.ClientSession) -> None:
    status, items = await get(http, "/api/external", tmdbId="27205")
    assert status == 200
    assert items
    assert all("inception" in i["title"].lower() for i in items)


async def test_link_origin_replays_the_localhost_glitch() -> None:
    config = SandboxConfig(link_origin="http://localhost:3000")
    async with SandboxServer(config) as server, server.client() as client:
        [first, *_] = await client.search("FRENCH")
    assert first.link.startswith("http://localhost:3000/torrents/")
    assert first.download_link is not None
    assert first.download_link.startswith("http://localhost:3000/api/download/")


# -- authentication ---------------------------------------------------------------------------


async def test_a_missing_or_wrong_key_is_401_in_the_live_words(sandbox: SandboxServer) -> None:
    async with aiohttp.ClientSession(base_url=sandbox.base_url) as session:
        async with session.get("/api/external/meta") as response:
            assert response.status == 401
            assert (await response.json())["error"] == "API key manquante"
        async with session.get("/api/external/meta", headers={"X-Api-Key": "nope"}) as response:
            assert response.status == 401
            assert await response.json() == {"error": "Invalid API key"}


# -- catalogue and settings -------------------------------------------------------------------


def test_the_live_catalogue_is_deterministic_and_in_live_categories() -> None:
    first = Catalogue.generate(seed=5, size=120)
    again = Catalogue.generate(seed=5, size=120)
    assert [(t.guid, t.slug, t.info_hash) for t in first] == [
        (t.guid, t.slug, t.info_hash) for t in again
    ]
    slugs = {t.category.slug for t in first}
    mix = {slug for slug, _, _ in first.taxonomy.catalogue_mix}
    assert slugs == mix, "the first pass covers every category of the mix"
    assert "music" in slugs, "torrents are published in inner categories too"
    assert not slugs & {"romans", "consoles", "h-t-ro"}


def test_profile_defaults_and_the_key_rate_for_a_matching_client() -> None:
    live, docs = SandboxConfig(), SandboxConfig(profile="docs")
    assert live.profile == "live"
    assert live.key_budget_limits == LIVE_KEY_BUDGET
    assert docs.key_budget_limits == ()
    assert (live.nfo_required, docs.nfo_required) == (True, False)
    assert SandboxConfig(require_nfo=False).nfo_required is False
    assert SandboxConfig(key_budget=()).key_budget_limits == ()
    assert client_key_rate(live) == [(60, 60.0), (200, 86_400.0)]
    assert client_key_rate(docs) is None
    scaled = SandboxConfig(key_budget=(RateLimit(6, 1.0), RateLimit(20, 10.0)))
    assert client_key_rate(scaled) == [(6, 1.0), (20, 10.0)]


@pytest.mark.parametrize(
    "kwargs",
    [{"profile": "staging"}, {"key_budget": [(60, 60.0)]}, {"download_token_ttl": 0}],
)
def test_bad_live_settings_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        SandboxConfig(**kwargs)
