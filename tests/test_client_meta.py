"""``meta``: the taxonomy as decoded, cached and filtered."""

from __future__ import annotations

import pytest
from _mocked import META, sent
from _sandboxed import is_live, tracker_client
from aioresponses import aioresponses
from conftest import META_JSON

import lacale_async as la
from lacale_async import FakeClock, LaCaleClient
from lacale_async.testing import SandboxServer

pytest_plugins = ["_mocked", "_sandboxed"]


# -- the network faked at the HTTP boundary ----------------------------------------------


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
    client: LaCaleClient, mock: aioresponses, fake_clock: FakeClock
) -> None:
    mock.get(META, payload=META_JSON, repeat=True)
    await client.meta()
    fake_clock.advance(3599)
    await client.meta()
    assert sent(mock) == 1
    fake_clock.advance(2)
    await client.meta()
    assert sent(mock) == 2


async def test_meta_missing_lists_are_empty(client: LaCaleClient, mock: aioresponses) -> None:
    mock.get(META, payload={"categories": [{"id": "a", "name": "A", "slug": "a"}]})
    meta = await client.meta()
    assert meta.tag_groups == ()
    assert meta.ungrouped_tags == ()


async def test_meta_refuses_an_unknown_cache_mode(client: LaCaleClient, mock: aioresponses) -> None:
    with pytest.raises(la.ValidationError):
        await client.meta(cache="bogus")  # type: ignore[arg-type]
    assert sent(mock) == 0


# -- the sandbox on 127.0.0.1, in both profiles ------------------------------------------


@pytest.mark.integration
async def test_meta_categories_and_category_filter(tracker: SandboxServer) -> None:
    async with tracker_client(tracker) as client:
        meta = await client.meta()
        slugs = {c.slug for c in meta.iter_categories()}
        assert {"films", "series", "music", "pc", "divers"} <= slugs
        assert ("flac" in slugs) is is_live(tracker)
        assert ("romans" in slugs) is not is_live(tracker)
        # The indexers' habit: "FRENCH" stands for "recent releases" on both profiles.
        films = await client.search("FRENCH", categories="films")
    assert films
    assert len(films) <= 50
    assert {t.category for t in films} == {"Films"}


async def test_a_hostile_category_tree_is_a_response_error(
    client: LaCaleClient, mock: aioresponses
) -> None:
    node: dict[str, object] = {"id": "leaf", "name": "n", "slug": "leaf"}
    for level in range(300):  # a recursive walk of it would overflow Python's stack
        node = {"id": f"c{level}", "name": "n", "slug": f"s{level}", "children": [node]}
    mock.get(META, payload={"categories": [node]})
    with pytest.raises(la.ResponseError, match="category tree is deeper than 32 levels"):
        await client.meta()
