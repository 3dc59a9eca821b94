"""The read-only JSON endpoints: search and meta, in the profile's shape."""

from __future__ import annotations

import math
from typing import Any

import msgspec
from aiohttp import web

from ._catalogue import CatalogueTorrent
from ._http import EXCHANGE, STATE, Reject, admit, json_response
from ._search import normalise, run_search
from ._state import SandboxState
from ._taxonomy import Category, Tag, TagGroup, Taxonomy

__all__ = ["MAX_CAT", "MAX_Q", "MAX_TMDB_ID", "meta", "search"]

MAX_Q = 200
MAX_CAT = 64
MAX_TMDB_ID = 64


async def search(request: web.Request) -> web.StreamResponse:
    """``GET /api/external``: filtered, newest-first approved torrents, cached per key+query."""
    state = request.app[STATE]
    exchange = EXCHANGE.get()
    key_name = admit(state, exchange)
    q, wanted, tmdb_id = _search_params(request)
    live = state.config.profile == "live"
    normalised = normalise(q)
    if live and not normalised and tmdb_id is None:
        # Live: "API dont accept empty request" (Prowlarr's lacale-api.yml); the wording is ours.
        raise Reject(400, "Paramètre q requis : une recherche sans mot-clé est refusée")
    category_ids = _category_ids(state.catalogue.taxonomy, wanted, exact=live)
    cache_key = (key_name, normalised, tuple(wanted), tmdb_id)
    now = exchange.arrived_at
    cached = state.cache.get(cache_key, now)
    if cached is None:
        found = run_search(
            state.catalogue,
            query=normalised,
            category_ids=category_ids if wanted else None,
            tmdb_id=tmdb_id,
        )
        origin = state.config.link_origin or str(request.url.origin())
        items = [_search_item(state, t, origin, key_name) for t in found]
        cached = state.cache.put(cache_key, msgspec.json.encode(items), now)
    headers = _cache_headers(state.cache.ttl, now - cached.stored_at)
    return web.Response(
        body=cached.body,
        content_type="application/json",
        headers=headers if state.config.cache_headers else None,
    )


def _search_params(request: web.Request) -> tuple[str, list[str], str | None]:
    """Return ``q``, the sorted distinct ``cat`` slugs and ``tmdbId``, refusing long values."""
    query = request.query
    q = query.get("q", "")
    if len(q) > MAX_Q:
        raise Reject(400, f"Requête trop longue : q dépasse {MAX_Q} caractères")
    slugs = [c.strip() for c in query.getall("cat", [])]
    if any(len(c) > MAX_CAT for c in slugs):
        raise Reject(400, f"Requête trop longue : cat dépasse {MAX_CAT} caractères")
    tmdb_id = query.get("tmdbId", "").strip() or None
    if tmdb_id is not None and len(tmdb_id) > MAX_TMDB_ID:
        raise Reject(400, f"Requête trop longue : tmdbId dépasse {MAX_TMDB_ID} caractères")
    return q, sorted({s for s in slugs if s}), tmdb_id


def _category_ids(taxonomy: Taxonomy, slugs: list[str], *, exact: bool) -> frozenset[str]:
    """Return the ids a ``cat`` filter matches.

    Documented: a parent's slug covers its children. Live: only the category itself (January
    2026 reports, JigSawFr/lacale-prowlarr-indexer issues #27 and #28: "films" did not return
    the torrents of its sub-categories).
    """
    ids: set[str] = set()
    for slug in slugs:
        category = taxonomy.by_slug(slug)
        if category is None:
            raise Reject(400, f"Catégorie invalide : {slug}")
        ids |= {category.id} if exact else taxonomy.covered_ids(category)
    return frozenset(ids)


def _search_item(
    state: SandboxState, torrent: CatalogueTorrent, origin: str, key_name: str
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "title": torrent.title,
        "guid": torrent.guid,
        "size": torrent.size,
        "pubDate": torrent.pub_date,
        # Documented (v2 page): the download URL.
        "link": f"{origin}/api/torrents/download/{torrent.info_hash}",
        "category": torrent.category.name,
        "seeders": torrent.seeders,
        "leechers": torrent.leechers,
        "infoHash": torrent.info_hash,
    }
    if state.config.profile == "live":
        # Live (torrent-mate's samples, 2026-05): link is the torrent's page, and downloadLink
        # a token URL that needs no key.
        token = state.tokens.mint(key_name, torrent.info_hash, state.config.wall_clock())
        item["link"] = f"{origin}/torrents/{torrent.slug}"
        item["downloadLink"] = f"{origin}/api/download/{torrent.info_hash}?token={token}"
    return item


def _cache_headers(ttl: float, age: float) -> dict[str, str]:
    """Describe the server cache the way an HTTP cache would (RFC 9111).

    ``max-age`` is the answer's whole lifetime and ``Age`` how much of it is spent, so a
    client may keep the answer ``max-age - Age`` more seconds: until the server's entry expires.
    """
    if ttl <= 0:
        return {"Cache-Control": "no-store"}
    return {"Cache-Control": f"private, max-age={math.ceil(ttl)}", "Age": str(math.floor(age))}


async def meta(request: web.Request) -> web.StreamResponse:
    """``GET /api/external/meta``: the category tree, tag groups, loose tags."""
    state = request.app[STATE]
    admit(state, EXCHANGE.get())
    taxonomy = state.catalogue.taxonomy
    live = state.config.profile == "live"
    style = "live" if live else "quirks" if state.config.quirks else "docs"
    categories = [_category_tree(taxonomy, root, 0, style) for root in taxonomy.parents]
    groups = [
        {
            "id": g.id,
            "name": g.name,
            "slug": g.slug,
            "order": g.order,
            "tags": _group_tags(g, live=live, quirks=state.config.quirks),
        }
        for g in taxonomy.tag_groups
    ]
    ungrouped = [_tag_item(t) for t in taxonomy.ungrouped_tags]
    return json_response(
        {"categories": categories, "tagGroups": groups, "ungroupedTags": ungrouped}
    )


def _category_tree(
    taxonomy: Taxonomy, category: Category, index: int, style: str
) -> dict[str, Any]:
    """Return a category with its subtree; how a leaf says "no children" depends on ``style``.

    ``live``: ``null`` (recorded). ``docs``: ``[]``. ``quirks``: what peers were seen to do,
    ``null`` for some leaves and no key at all for others.
    """
    item = _category_item(category)
    kids = taxonomy.children.get(category.id, ())
    if kids:
        item["children"] = [_category_tree(taxonomy, c, i, style) for i, c in enumerate(kids)]
    elif style == "live" or (style == "quirks" and index % 2):
        item["children"] = None
    elif style == "docs":
        item["children"] = []
    return item


def _group_tags(group: TagGroup, *, live: bool, quirks: bool) -> list[dict[str, str]] | None:
    """Live: ``null`` unless the group lists its tags (most do not). Quirks: ``null`` if empty."""
    if group.tags and (group.listed or not live):
        return [_tag_item(t) for t in group.tags]
    return None if live or quirks else []


def _category_item(category: Category) -> dict[str, Any]:
    return {
        "id": category.id,
        "name": category.name,
        "slug": category.slug,
        "icon": category.icon,
        "parentId": category.parent_id,
    }


def _tag_item(tag: Tag) -> dict[str, str]:
    return {"id": tag.id, "name": tag.name, "slug": tag.slug}
