"""The read-only endpoints: search, meta and download."""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Any
from urllib.parse import quote

import msgspec
from aiohttp import web

from ._catalogue import CatalogueTorrent
from ._http import EXCHANGE, STATE, Reject, admit, json_response
from ._search import normalise, run_search
from ._taxonomy import Category, Tag

__all__ = ["MAX_CAT", "MAX_Q", "MAX_TMDB_ID", "download", "meta", "search"]

MAX_Q = 200
MAX_CAT = 64
MAX_TMDB_ID = 64

_HASH = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")
_FILENAME_UNSAFE = re.compile(r'[\x00-\x1f\x7f"/\\]+')


async def search(request: web.Request) -> web.StreamResponse:
    """``GET /api/external``: filtered, newest-first approved torrents, cached per key+query."""
    state = request.app[STATE]
    exchange = EXCHANGE.get()
    key_name = admit(state, exchange)
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
    wanted = sorted({s for s in slugs if s})
    taxonomy = state.catalogue.taxonomy
    category_ids: set[str] = set()
    for slug in wanted:
        category = taxonomy.by_slug(slug)
        if category is None:
            raise Reject(400, f"Catégorie invalide : {slug}")
        category_ids |= taxonomy.covered_ids(category)
    normalised = normalise(q)
    cache_key = (key_name, normalised, tuple(wanted), tmdb_id)
    now = exchange.arrived_at
    cached = state.cache.get(cache_key, now)
    if cached is None:
        found = run_search(
            state.catalogue,
            query=normalised,
            category_ids=frozenset(category_ids) if wanted else None,
            tmdb_id=tmdb_id,
        )
        base = str(request.url.origin())
        body = msgspec.json.encode([_search_item(t, base) for t in found])
        cached = state.cache.put(cache_key, body, now)
    headers = _cache_headers(state.cache.ttl, now - cached.stored_at)
    return web.Response(
        body=cached.body,
        content_type="application/json",
        headers=headers if state.config.cache_headers else None,
    )


def _search_item(torrent: CatalogueTorrent, base: str) -> dict[str, Any]:
    return {
        "title": torrent.title,
        "guid": torrent.guid,
        "size": torrent.size,
        "pubDate": torrent.pub_date,
        "link": f"{base}/api/torrents/download/{torrent.info_hash}",
        "category": torrent.category.name,
        "seeders": torrent.seeders,
        "leechers": torrent.leechers,
        "infoHash": torrent.info_hash,
    }


def _cache_headers(ttl: float, age: float) -> dict[str, str]:
    """Describe the server cache the way an HTTP cache would (RFC 9111).

    ``max-age`` is the answer's whole lifetime and ``Age`` how much of it is spent, so a
    client may keep the answer ``max-age - Age`` more seconds: until the server's entry expires.
    """
    if ttl <= 0:
        return {"Cache-Control": "no-store"}
    return {"Cache-Control": f"private, max-age={math.ceil(ttl)}", "Age": str(math.floor(age))}


async def meta(request: web.Request) -> web.StreamResponse:
    """``GET /api/external/meta``: categories with their children, tag groups, loose tags."""
    state = request.app[STATE]
    admit(state, EXCHANGE.get())
    taxonomy = state.catalogue.taxonomy
    quirks = state.config.quirks
    categories = []
    for parent in taxonomy.parents:
        children = []
        for index, leaf in enumerate(taxonomy.children[parent.id]):
            item = _category_item(leaf)
            if not quirks:
                item["children"] = []
            elif index % 2:
                # Peers seen in the field send null for some leaves and omit the key for others.
                item["children"] = None
            children.append(item)
        categories.append({**_category_item(parent), "children": children})
    groups = [
        {
            "id": g.id,
            "name": g.name,
            "slug": g.slug,
            "order": g.order,
            "tags": None if quirks and not g.tags else [_tag_item(t) for t in g.tags],
        }
        for g in taxonomy.tag_groups
    ]
    ungrouped = [_tag_item(t) for t in taxonomy.ungrouped_tags]
    return json_response(
        {"categories": categories, "tagGroups": groups, "ungroupedTags": ungrouped}
    )


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


async def download(request: web.Request) -> web.StreamResponse:
    """``GET /api/torrents/download/<infoHash>``: the .torrent file of an approved torrent."""
    state = request.app[STATE]
    admit(state, EXCHANGE.get())
    info_hash = request.match_info["info_hash"]
    if not _HASH.fullmatch(info_hash):
        raise Reject(400, "infoHash invalide : 40 ou 64 caractères hexadécimaux attendus")
    torrent = state.catalogue.get(info_hash)
    if torrent is None or not torrent.approved:
        raise Reject(404, "Torrent introuvable")
    return web.Response(
        body=torrent.data,
        content_type="application/x-bittorrent",
        headers={"Content-Disposition": _attachment(f"{torrent.title}.torrent")},
    )


def _attachment(filename: str) -> str:
    """Return a Content-Disposition with an ASCII fallback and the UTF-8 name (RFC 6266)."""
    clean = _FILENAME_UNSAFE.sub("_", filename)
    # Old clients only read filename=: give them the name without its accents.
    ascii_only = unicodedata.normalize("NFKD", clean).encode("ascii", "ignore").decode("ascii")
    return f"attachment; filename=\"{ascii_only}\"; filename*=UTF-8''{quote(clean, safe='')}"
