"""The sandbox's aiohttp application: one middleware for the cross-cutting rules, four handlers."""

from __future__ import annotations

import contextvars
import math
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import msgspec
from aiohttp import web

from .._errors import InvalidTorrentError
from .._torrent import SOURCE_FLAG, parse_torrent
from ._catalogue import CatalogueTorrent
from ._config import ENDPOINTS
from ._faults import answer_fault
from ._ids import cuid_from_rng, slugify
from ._ratelimit import RateLimit, retry_after_header
from ._records import AuthVia, RecordedRequest, UploadRecord, redact_query
from ._search import normalise, run_search
from ._state import SandboxState
from ._taxonomy import Category

__all__ = ["STATE", "build_app"]

STATE = web.AppKey("lacale_sandbox_state", SandboxState)

MAX_Q = 200
MAX_CAT = 64
MAX_TMDB_ID = 64
MAX_TITLE = 255
# Big multi-file torrents run to several MB; aiohttp's 1 MiB default would refuse them.
MAX_UPLOAD_BYTES = 32 * 1024 * 1024
TMDB_TYPES = frozenset({"MOVIE", "TV"})

_HASH = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")
_FILENAME_UNSAFE = re.compile(r'[\x00-\x1f\x7f"/\\]+')

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(slots=True)
class _Exchange:
    """What the middleware and a handler share about the request in flight."""

    arrived_at: float
    endpoint: str | None
    client_ip: str | None
    key: str | None
    auth_via: AuthVia | None
    key_name: str | None = None


# Handlers run in the middleware's task, so a context variable carries the exchange without
# storing anything on the request (string request keys warn on recent aiohttp versions).
_EXCHANGE: contextvars.ContextVar[_Exchange] = contextvars.ContextVar("lacale_sandbox_exchange")


class _Reject(Exception):
    """Answer the request with a JSON error; raised anywhere below a handler."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def _json(payload: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, body=msgspec.json.encode(payload), content_type="application/json", headers=headers
    )


def _client_ip(request: web.Request, trust_forwarded: bool) -> str | None:
    if trust_forwarded:
        forwarded = request.headers.get("X-Forwarded-For", "")
        first = forwarded.split(",")[0].strip()
        if first:
            return first
    return request.remote


def _key_from_request(request: web.Request) -> tuple[str | None, AuthVia | None]:
    """Find the key in the header, then ``?apikey=``, then the legacy ``?passkey=``."""
    header = request.headers.get("X-Api-Key", "").strip()
    if header:
        return header, "header"
    for param in ("apikey", "passkey"):
        value = request.query.get(param, "").strip()
        if value:
            return value, "apikey" if param == "apikey" else "passkey"
    return None, None


@web.middleware
async def _middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Record the request, inject faults and latency, and turn errors into JSON."""
    state = request.app[STATE]
    route_name = request.match_info.route.name
    key, via = _key_from_request(request)
    exchange = _Exchange(
        arrived_at=state.clock.now(),
        endpoint=route_name if route_name in ENDPOINTS else None,
        client_ip=_client_ip(request, state.config.trust_forwarded_for),
        key=key,
        auth_via=via,
    )
    token = _EXCHANGE.set(exchange)
    status: int | None = None
    fault_kind: str | None = None
    try:
        fault = state.faults.take(exchange.endpoint, request.path)
        if state.config.latency > 0:
            await state.clock.sleep(state.config.latency)
        if fault is not None:
            fault_kind = fault.kind
            if fault.delay > 0:
                await state.clock.sleep(fault.delay)
            if fault.kind != "delay":
                response = await answer_fault(fault, request)
                status = None if fault.kind == "drop" else response.status
                return response
        try:
            response = await handler(request)
        except _Reject as reject:
            response = _json({"error": reject.message}, status=reject.status, headers=reject.headers)
        except web.HTTPException as exc:
            # Router misses (404, 405) and aiohttp's own refusals (413...) answer JSON too.
            response = _json({"error": exc.reason}, status=exc.status, headers=_allow(exc))
        status = response.status
        return response
    finally:
        _EXCHANGE.reset(token)
        state.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                endpoint=exchange.endpoint,
                query=redact_query(request.query.items()),
                arrived_at=exchange.arrived_at,
                status=status,
                client_ip=exchange.client_ip,
                key_name=exchange.key_name,
                auth_via=exchange.auth_via,
                fault=fault_kind,
                user_agent=request.headers.get("User-Agent"),
            )
        )


def _allow(exc: web.HTTPException) -> dict[str, str]:
    allow = exc.headers.get("Allow")
    return {"Allow": allow} if allow else {}


def _admit(state: SandboxState, exchange: _Exchange) -> str:
    """Apply the IP limit, authenticate, then apply the key limit.

    Returns:
        The name of the valid key.

    Raises:
        _Reject: 429 (limit), 401 (no key) or 403 (unknown key).
    """
    endpoint = exchange.endpoint or "unknown"
    checks: list[tuple[tuple[str, str, str], RateLimit]] = []
    ip_limit = state.config.ip_limits.get(endpoint)
    if ip_limit is not None:
        checks.append((("ip", endpoint, exchange.client_ip or "?"), ip_limit))
    name = state.key_name(exchange.key) if exchange.key is not None else None
    key_limit = state.config.key_limits.get(endpoint)
    if name is not None and key_limit is not None:
        checks.append((("key", endpoint, name), key_limit))
    # IP and key windows are charged together or not at all; an unauthenticated request only
    # touches the IP window, which is what stops key guessing.
    refused = state.limiter.acquire(checks, exchange.arrived_at)
    if refused is not None:
        bucket, wait = refused
        state.throttled[(endpoint, bucket[0])] += 1
        header = retry_after_header(wait)
        raise _Reject(
            429,
            f"Trop de requêtes ({bucket[0]}), réessayez dans {header} s",
            {"Retry-After": header},
        )
    if exchange.key is None:
        raise _Reject(401, "Clé API manquante")
    if name is None:
        raise _Reject(403, "Clé API invalide")
    exchange.key_name = name
    return name


# --- GET /api/external ---------------------------------------------------------------------


async def _search(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    exchange = _EXCHANGE.get()
    key_name = _admit(state, exchange)
    query = request.query
    q = query.get("q", "")
    if len(q) > MAX_Q:
        raise _Reject(400, f"Requête trop longue : q dépasse {MAX_Q} caractères")
    slugs = [c.strip() for c in query.getall("cat", [])]
    if any(len(c) > MAX_CAT for c in slugs):
        raise _Reject(400, f"Requête trop longue : cat dépasse {MAX_CAT} caractères")
    tmdb_id = query.get("tmdbId", "").strip() or None
    if tmdb_id is not None and len(tmdb_id) > MAX_TMDB_ID:
        raise _Reject(400, f"Requête trop longue : tmdbId dépasse {MAX_TMDB_ID} caractères")
    wanted = sorted({s for s in slugs if s})
    category_ids: set[str] = set()
    for slug in wanted:
        category = state.catalogue.taxonomy.by_slug(slug)
        if category is None:
            raise _Reject(400, f"Catégorie invalide : {slug}")
        category_ids |= state.catalogue.taxonomy.covered_ids(category)
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
    headers: dict[str, str] = {}
    if state.config.cache_headers:
        headers.update(_cache_headers(state.cache.ttl, now - cached.stored_at))
    return web.Response(body=cached.body, content_type="application/json", headers=headers)


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
    client keeps the answer ``max-age - Age`` more seconds: exactly until the server's own
    entry expires.
    """
    if ttl <= 0:
        return {"Cache-Control": "no-store"}
    return {"Cache-Control": f"private, max-age={math.ceil(ttl)}", "Age": str(math.floor(age))}


# --- GET /api/external/meta ----------------------------------------------------------------


async def _meta(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    _admit(state, _EXCHANGE.get())
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
                # Peers seen in the field send null for leaves; others leave the key out.
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
    return _json(
        {
            "categories": categories,
            "tagGroups": groups,
            "ungroupedTags": [_tag_item(t) for t in taxonomy.ungrouped_tags],
        }
    )


def _category_item(category: Category) -> dict[str, Any]:
    return {
        "id": category.id,
        "name": category.name,
        "slug": category.slug,
        "icon": category.icon,
        "parentId": category.parent_id,
    }


def _tag_item(tag: Any) -> dict[str, str]:
    return {"id": tag.id, "name": tag.name, "slug": tag.slug}


# --- POST /api/external/upload -------------------------------------------------------------


async def _read_form(request: web.Request) -> Mapping[str, Any]:
    if request.content_type != "multipart/form-data":
        raise _Reject(400, "Content-Type multipart/form-data attendu")
    try:
        return await request.post()
    except ValueError as exc:
        raise _Reject(400, f"Formulaire multipart invalide : {exc}") from None


def _text(form: Any, name: str) -> str | None:
    values = [v for v in form.getall(name, []) if v is not None]
    if not values:
        return None
    value = values[0]
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace").strip()
    if not isinstance(value, str):
        raise _Reject(400, f"{name} doit être un champ texte")
    return value.strip()


def _file(form: Any, name: str) -> tuple[bytes, str | None] | None:
    value = form.get(name)
    if value is None:
        return None
    if isinstance(value, web.FileField):
        return value.file.read(), value.filename
    if isinstance(value, (bytes, bytearray)):
        return bytes(value), None
    if isinstance(value, str) and value:
        return value.encode("utf-8"), None
    return None


def _validate_cover(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise _Reject(400, "coverUrl doit être une URL publique en https")


async def _upload(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    exchange = _EXCHANGE.get()
    form: Mapping[str, Any] | None = None
    if exchange.key is None:
        # v1 clients put the passkey in the form itself: the body must be read to find it.
        form = await _read_form(request)
        passkey = _text(form, "passkey")
        if passkey:
            exchange.key, exchange.auth_via = passkey, "form"
    key_name = _admit(state, exchange)
    if form is None:
        form = await _read_form(request)

    title = _text(form, "title")
    category_id = _text(form, "categoryId")
    upload = _file(form, "file")
    missing = [n for n, v in (("title", title), ("categoryId", category_id), ("file", upload)) if not v]
    if missing:
        raise _Reject(400, "Champs requis manquants : " + ", ".join(missing))
    assert title is not None and category_id is not None and upload is not None
    if len(title) > MAX_TITLE:
        raise _Reject(400, f"title dépasse {MAX_TITLE} caractères")
    taxonomy = state.catalogue.taxonomy
    category = taxonomy.by_id(category_id)
    if category is None:
        raise _Reject(400, f"Catégorie invalide : {category_id[:64]}")
    tag_ids = [t.strip() for name in ("tags", "tags[]") for t in form.getall(name, []) if isinstance(t, str)]
    known_tags = taxonomy.tag_ids()
    for tag_id in tag_ids:
        if tag_id not in known_tags:
            raise _Reject(400, f"Tag inconnu : {tag_id[:64]}")
    tmdb_id = _text(form, "tmdbId") or None
    if tmdb_id is not None and (len(tmdb_id) > MAX_TMDB_ID or not tmdb_id.isdigit()):
        raise _Reject(400, "tmdbId doit être un identifiant TMDB numérique")
    tmdb_type = _text(form, "tmdbType") or None
    if tmdb_type is not None and tmdb_type not in TMDB_TYPES:
        raise _Reject(400, "tmdbType doit valoir MOVIE ou TV")
    cover_url = _text(form, "coverUrl") or None
    if cover_url is not None:
        _validate_cover(cover_url)
    data, filename = upload
    try:
        parsed = parse_torrent(data)
    except InvalidTorrentError as exc:
        raise _Reject(400, f"Torrent illisible : {exc}") from None
    hashes = [h for h in (parsed.info_hash_v1, parsed.info_hash_v2) if h is not None]
    if any(state.catalogue.get(h) is not None for h in hashes):
        raise _Reject(409, "Torrent déjà existant (même InfoHash)")
    nfo = _file(form, "nfoFile")

    rng = random.Random(f"{state.config.seed}:upload:{len(state.uploads)}:{parsed.info_hash}")
    guid = cuid_from_rng(rng)
    slug = f"{slugify(title)}-{guid[-6:]}"
    # Uploads must sort before every catalogue entry, whatever the machine's clock says.
    published_ms = max(int(time.time() * 1000), state.catalogue.newest_ms + 1)
    state.catalogue.add(
        CatalogueTorrent(
            guid=guid,
            title=title,
            slug=slug,
            category=category,
            size=parsed.total_size,
            seeders=0,
            leechers=0,
            published_ms=published_ms,
            info_hash=parsed.info_hash,
            data=data,
            tmdb_id=tmdb_id,
            tmdb_type=tmdb_type,
            tag_ids=tuple(tag_ids),
            other_hashes=tuple(h for h in hashes if h != parsed.info_hash),
        )
    )
    state.uploads.append(
        UploadRecord(
            id=guid,
            slug=slug,
            info_hash=parsed.info_hash,
            title=title,
            category_id=category.id,
            tag_ids=tuple(tag_ids),
            description=_text(form, "description"),
            tmdb_id=tmdb_id,
            tmdb_type=tmdb_type,
            cover_url=cover_url,
            nfo=None if nfo is None else nfo[0],
            torrent=data,
            torrent_filename=filename,
            source_flag=parsed.source == SOURCE_FLAG,
            key_name=key_name,
        )
    )
    base = str(request.url.origin())
    return _json({"success": True, "id": guid, "slug": slug, "link": f"{base}/torrents/{slug}"})


# --- GET /api/torrents/download/<infoHash> -------------------------------------------------


async def _download(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    _admit(state, _EXCHANGE.get())
    info_hash = request.match_info["info_hash"]
    if not _HASH.fullmatch(info_hash):
        raise _Reject(400, "infoHash invalide : 40 ou 64 caractères hexadécimaux attendus")
    torrent = state.catalogue.get(info_hash)
    if torrent is None or not torrent.approved:
        raise _Reject(404, "Torrent introuvable")
    return web.Response(
        body=torrent.data,
        content_type="application/x-bittorrent",
        headers={"Content-Disposition": _attachment(f"{torrent.title}.torrent")},
    )


def _attachment(filename: str) -> str:
    """Return a Content-Disposition with an ASCII fallback and the UTF-8 name (RFC 6266)."""
    clean = _FILENAME_UNSAFE.sub("_", filename)
    fallback = clean.encode("ascii", "replace").decode("ascii").replace("?", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(clean, safe='')}"


def build_app(state: SandboxState) -> web.Application:
    """Build the sandbox application around ``state``.

    Args:
        state: Keys, catalogue, limits, cache, faults and logs of this sandbox.

    Returns:
        The application, routes named after the endpoints.
    """
    app = web.Application(middlewares=[_middleware], client_max_size=MAX_UPLOAD_BYTES)
    app[STATE] = state
    app.router.add_get("/api/external", _search, name="search")
    app.router.add_get("/api/external/meta", _meta, name="meta")
    app.router.add_post("/api/external/upload", _upload, name="upload")
    app.router.add_get("/api/torrents/download/{info_hash}", _download, name="download")
    return app
