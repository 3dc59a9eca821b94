"""``POST /api/external/upload``: form validation and publication of the new torrent."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from .._errors import InvalidTorrentError
from .._torrent import SOURCE_FLAG, TorrentInfo, parse_torrent
from ._catalogue import CatalogueTorrent
from ._http import EXCHANGE, STATE, Reject, admit, json_response
from ._publish import identity
from ._records import UploadRecord
from ._state import SandboxState
from ._taxonomy import Category

__all__ = ["MAX_TITLE", "TMDB_TYPES", "upload"]

MAX_TITLE = 255
MAX_TMDB_ID = 64
TMDB_TYPES = frozenset({"MOVIE", "TV"})
# Error messages echo ids back; a bounded echo keeps a hostile field out of the answer.
_ECHO = 64


_FORM_TYPES = frozenset({"multipart/form-data", "application/x-www-form-urlencoded"})


async def _read_form(request: web.Request) -> Mapping[str, Any]:
    # A url-encoded form cannot carry the file, but it is still read so that the answer
    # names the missing field instead of blaming the encoding.
    if request.content_type not in _FORM_TYPES:
        raise Reject(400, "Content-Type multipart/form-data attendu")
    try:
        return await request.post()
    except ValueError as exc:
        raise Reject(400, f"Formulaire multipart invalide : {str(exc)[:200]}") from None


def _text(form: Any, name: str) -> str | None:
    """Return a text field, stripped, or None when absent."""
    value = form.get(name)
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace").strip()
    if not isinstance(value, str):
        raise Reject(400, f"{name} doit être un champ texte, pas un fichier")
    return value.strip()


def _file(form: Any, name: str) -> tuple[bytes, str | None] | None:
    """Return ``(content, file name)`` of a file field, or None when absent or empty."""
    value = form.get(name)
    if isinstance(value, web.FileField):
        content: bytes = value.file.read()
        return (content, value.filename) if content else None
    if isinstance(value, (bytes, bytearray)) and value:
        return bytes(value), None
    if isinstance(value, str) and value:
        return value.encode("utf-8"), None
    return None


def _tags(form: Any, state: SandboxState) -> tuple[str, ...]:
    # The v2 quick reference spells the repeated field "tags[]"; the field lists say "tags".
    values = (v for name in ("tags", "tags[]") for v in form.getall(name, []))
    tag_ids = tuple(v.strip() for v in values if isinstance(v, str) and v.strip())
    if state.config.profile == "live" and any(t.startswith("[") for t in tag_ids):
        # Live: tags sent as one JSON array get a 500 (IsT3RiK/Seedarr's lacale_client.py).
        raise Reject(500, "Internal Server Error")
    # Every tag the tracker knows is accepted, also those /meta does not list (live).
    known = state.catalogue.taxonomy.tag_ids()
    for tag_id in tag_ids:
        if tag_id not in known:
            raise Reject(400, f"Tag inconnu : {tag_id[:_ECHO]}")
    return tag_ids


def _tmdb(form: Any) -> tuple[str | None, str | None]:
    tmdb_id = _text(form, "tmdbId") or None
    if tmdb_id is not None and (len(tmdb_id) > MAX_TMDB_ID or not tmdb_id.isdigit()):
        raise Reject(400, "tmdbId doit être un identifiant TMDB numérique")
    tmdb_type = _text(form, "tmdbType") or None
    if tmdb_type is not None and tmdb_type not in TMDB_TYPES:
        raise Reject(400, "tmdbType doit valoir MOVIE ou TV")
    return tmdb_id, tmdb_type


def _cover(form: Any) -> str | None:
    url = _text(form, "coverUrl") or None
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            raise Reject(400, "coverUrl doit être une URL publique en https")
    return url


def _torrent(data: bytes, state: SandboxState) -> TorrentInfo:
    try:
        parsed = parse_torrent(data)
    except InvalidTorrentError as exc:
        raise Reject(400, f"Torrent illisible : {exc}") from None
    hashes = (parsed.info_hash_v1, parsed.info_hash_v2)
    if any(h is not None and state.catalogue.get(h) is not None for h in hashes):
        raise Reject(409, "Torrent déjà existant (même InfoHash)")
    return parsed


def _required(form: Any, state: SandboxState) -> tuple[str, Category, tuple[bytes, str | None]]:
    title = _text(form, "title")
    category_id = _text(form, "categoryId")
    upload = _file(form, "file")
    fields = (("title", title), ("categoryId", category_id), ("file", upload))
    missing = [name for name, value in fields if not value]
    if missing or title is None or category_id is None or upload is None:
        raise Reject(400, "Champs requis manquants : " + ", ".join(missing))
    if len(title) > MAX_TITLE:
        raise Reject(400, f"title dépasse {MAX_TITLE} caractères")
    category = state.catalogue.taxonomy.by_id(category_id)
    if category is None:
        raise Reject(400, f"Catégorie invalide : {category_id[:_ECHO]}")
    return title, category, upload


def _nfo(form: Any, state: SandboxState) -> tuple[bytes, str | None] | None:
    nfo = _file(form, "nfoFile")
    if nfo is None and state.config.nfo_required:
        # Live: uploaders report NFO-less uploads rejected (Upload-Assistant's LACALE.py lists
        # nfoFile as required; Seedarr refuses to send one under 50 bytes). Documented optional.
        raise Reject(400, "Champs requis manquants : nfoFile")
    return nfo


async def _admitted_form(
    request: web.Request, state: SandboxState
) -> tuple[Mapping[str, Any], str]:
    """Admit the upload's key (from the form for v1 clients), then return the form and key."""
    exchange = EXCHANGE.get()
    form: Mapping[str, Any] | None = None
    if exchange.key is None:
        # v1 clients put the passkey in the form itself: the body must be read to find it.
        form = await _read_form(request)
        passkey = _text(form, "passkey")
        if passkey:
            exchange.key, exchange.auth_via = passkey, "form"
    key_name = admit(state, exchange)
    if form is None:
        form = await _read_form(request)
    return form, key_name


async def upload(request: web.Request) -> web.StreamResponse:
    """``POST /api/external/upload``: validate the form and publish the torrent at once.

    The new torrent is approved, downloadable immediately, and searchable once cached
    answers for the search in question have expired.
    """
    state = request.app[STATE]
    form, key_name = await _admitted_form(request, state)
    title, category, (data, filename) = _required(form, state)
    tag_ids = _tags(form, state)
    tmdb_id, tmdb_type = _tmdb(form)
    cover_url = _cover(form)
    parsed = _torrent(data, state)
    nfo = _nfo(form, state)
    guid, slug = identity(state, title, parsed.info_hash, f"upload:{len(state.uploads)}")
    hashes = tuple(h for h in (parsed.info_hash_v1, parsed.info_hash_v2) if h is not None)
    state.catalogue.add(
        CatalogueTorrent(
            guid=guid,
            title=title,
            slug=slug,
            category=category,
            size=parsed.total_size,
            seeders=0,
            leechers=0,
            # Uploads sort before every catalogue entry, whatever the wall clock says.
            published_ms=state.next_published_ms(),
            info_hash=parsed.info_hash,
            data=data,
            tmdb_id=tmdb_id,
            tmdb_type=tmdb_type,
            tag_ids=tag_ids,
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
            tag_ids=tag_ids,
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
    link = f"{state.config.link_origin or request.url.origin()}/torrents/{slug}"
    return json_response({"success": True, "id": guid, "slug": slug, "link": link})
