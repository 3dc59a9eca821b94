"""The .torrent endpoints (documented with the key, live with a token) and the details page."""

from __future__ import annotations

import html
import re
import unicodedata
from urllib.parse import quote

from aiohttp import web

from .._validation import is_info_hash
from ._catalogue import CatalogueTorrent
from ._http import EXCHANGE, STATE, Reject, admit, admit_token
from ._state import SandboxState

__all__ = ["details_page", "download", "download_with_token", "token_key_of"]

_FILENAME_UNSAFE = re.compile(r'[\x00-\x1f\x7f"/\\]+')


async def download(request: web.Request) -> web.StreamResponse:
    """``GET /api/torrents/download/<infoHash>``: the .torrent file of an approved torrent."""
    state = request.app[STATE]
    admit(state, EXCHANGE.get())
    return _torrent_file(state, request.match_info["info_hash"])


def token_key_of(state: SandboxState, request: web.Request) -> str | None:
    """Return the key name a valid token link carries, or None; the middleware calls it.

    Known at arrival, so the request counts against that key's limits like any download.
    """
    token = request.query.get("token", "")
    info_hash = request.match_info.get("info_hash", "")
    return state.tokens.check(token, info_hash, state.config.wall_clock()) if token else None


async def download_with_token(request: web.Request) -> web.StreamResponse:
    """``GET /api/download/<infoHash>?token=<JWT>``: the live profile's keyless download link."""
    state = request.app[STATE]
    admit_token(state, EXCHANGE.get())
    return _torrent_file(state, request.match_info["info_hash"])


def _torrent_file(state: SandboxState, info_hash: str) -> web.Response:
    if not is_info_hash(info_hash):
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


async def details_page(request: web.Request) -> web.StreamResponse:
    """``GET /torrents/<slug>``: the torrent's page, where the live ``link`` points (HTML)."""
    state = request.app[STATE]
    slug = request.match_info["slug"]
    torrent = next((t for t in state.catalogue if t.slug == slug and t.approved), None)
    if torrent is None:
        return web.Response(
            status=404, text=_page("Torrent introuvable", ""), content_type="text/html"
        )
    return web.Response(text=_page(torrent.title, _summary(torrent)), content_type="text/html")


def _summary(torrent: CatalogueTorrent) -> str:
    return (
        f"<p>{html.escape(torrent.category.name)} · {torrent.size} octets · "
        f"{torrent.seeders} seeders · {torrent.leechers} leechers</p>"
        f"<p>Info hash : <code>{torrent.info_hash}</code></p>"
    )


def _page(title: str, body: str) -> str:
    shown = html.escape(title)
    return (
        f'<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>{shown} - La Cale'
        f"</title></head><body><h1>{shown}</h1>{body}</body></html>"
    )
