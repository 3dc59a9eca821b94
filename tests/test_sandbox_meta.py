"""GET /api/external/meta on a live sandbox: the documented shape, and the field quirks."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import pytest

from lacale_async.testing import SandboxConfig, SandboxServer

pytestmark = pytest.mark.integration

DOCUMENTED_LEAVES = {
    "films", "series", "spectacles", "music", "audio-divers", "pc", "consoles", "jeux-mobiles",
    "systemes", "software", "romans", "bd", "documentaires", "livres", "presse", "education",
    "h-t-ro", "gay", "lesbien", "trans", "divers",
}  # fmt: skip
CUID = re.compile(r"c[0-9a-z]{24}")


async def fetch_meta(config: SandboxConfig | None = None) -> dict[str, Any]:
    async with (
        SandboxServer(config or SandboxConfig(profile="docs")) as sandbox,
        aiohttp.ClientSession(headers={"X-Api-Key": sandbox.api_key}) as session,
        session.get(f"{sandbox.base_url}/api/external/meta") as response,
    ):
        assert response.status == 200
        assert response.content_type == "application/json"
        body: dict[str, Any] = await response.json()
        return body


async def test_shape_follows_the_docs() -> None:
    meta = await fetch_meta()
    assert set(meta) == {"categories", "tagGroups", "ungroupedTags"}
    parents = meta["categories"]
    assert [p["slug"] for p in parents] == [
        "video", "audio", "jeux", "applications", "ebooks", "xxx", "autre",
    ]  # fmt: skip
    leaves = set()
    for parent in parents:
        assert set(parent) == {"id", "name", "slug", "icon", "parentId", "children"}
        assert parent["parentId"] is None
        assert CUID.fullmatch(parent["id"])
        assert parent["children"]
        for child in parent["children"]:
            assert set(child) == {"id", "name", "slug", "icon", "parentId", "children"}
            assert child["parentId"] == parent["id"]
            assert child["children"] == []
            assert CUID.fullmatch(child["id"])
            leaves.add(child["slug"])
    assert leaves == DOCUMENTED_LEAVES
    video = parents[0]
    assert video["name"] == "Vidéo"
    assert video["icon"] == "Film"
    assert {c["name"] for c in video["children"]} == {"Films", "Séries TV", "Spectacles"}


async def test_tag_groups_and_ungrouped_tags() -> None:
    meta = await fetch_meta()
    groups = meta["tagGroups"]
    assert [g["order"] for g in groups] == sorted(g["order"] for g in groups)
    names = [g["name"] for g in groups]
    assert {"Qualité vidéo", "Genres", "Langues"} <= set(names)
    for group in groups:
        assert set(group) == {"id", "name", "slug", "order", "tags"}
        assert isinstance(group["tags"], list)
        for tag in group["tags"]:
            assert set(tag) == {"id", "name", "slug"}
            assert CUID.fullmatch(tag["id"])
    quality = next(g for g in groups if g["name"] == "Qualité vidéo")
    assert "1080p" in {t["slug"] for t in quality["tags"]}
    assert meta["ungroupedTags"]
    assert all(set(t) == {"id", "name", "slug"} for t in meta["ungroupedTags"])


async def test_ids_are_stable_between_seeds() -> None:
    first = await fetch_meta(SandboxConfig(seed=1, profile="docs"))
    second = await fetch_meta(SandboxConfig(seed=2, profile="docs"))
    assert first == second


async def test_quirks_mimic_peers_seen_in_the_field() -> None:
    meta = await fetch_meta(SandboxConfig(quirks=True, profile="docs"))
    leaves = [c for p in meta["categories"] for c in p["children"]]
    absent = [c for c in leaves if "children" not in c]
    null = [c for c in leaves if "children" in c and c["children"] is None]
    assert absent
    assert null
    assert len(absent) + len(null) == len(leaves)
    assert all(isinstance(p["children"], list) for p in meta["categories"])
    null_groups = [g for g in meta["tagGroups"] if g["tags"] is None]
    assert len(null_groups) == 1
    assert all(isinstance(g["tags"], list) and g["tags"] for g in meta["tagGroups"] if g["tags"])


async def test_meta_needs_a_key() -> None:
    async with (
        SandboxServer(SandboxConfig(profile="docs")) as sandbox,
        aiohttp.ClientSession() as session,
    ):
        async with session.get(f"{sandbox.base_url}/api/external/meta") as response:
            assert response.status == 401
        async with session.get(
            f"{sandbox.base_url}/api/external/meta", params={"passkey": sandbox.api_key}
        ) as response:
            assert response.status == 200
