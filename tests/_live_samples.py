"""Answers shaped like the live tracker's, written from the facts peers recorded (no copied file).

Facts used: IznoCorp/torrent-mate's samples recorded from the live API in 2026-05 (search items
carry ``downloadLink`` = ``<origin>/api/download/<infoHash>?token=<JWT>``, ``link`` is the
torrent's page, guids are 20-character xids or 25-character cuids, categories are labels such as
"Films" and "Musique"; ``/meta`` leaves have ``children: null``, Autres and XXX have no children,
Musique and Logiciels have a third level, most tag groups have ``tags: null``, ids come in three
shapes; a wrong key is 401 ``{"error": "Invalid API key"}``). The titles, ids, hashes and
tokens below are made up.
"""

from __future__ import annotations

import base64
import json
from typing import Any

LIVE = "https://tracker.test"
"""The origin of these answers: the unit tests' BASE."""


def make_jwt(exp: float | None, **claims: Any) -> str:
    """Return an unsigned-looking JWT whose payload holds ``exp`` (the SDK never verifies it)."""

    def part(data: dict[str, Any]) -> str:
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    payload = dict(claims)
    if exp is not None:
        payload["exp"] = exp
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(payload)}.c2lnbmF0dXJl"


def live_item(
    info_hash: str,
    *,
    title: str = "Le.Grand.Bleu.1988.MULTi.1080p.BluRay.x264-KRAKEN",
    guid: str = "d7ab3k1v871c73e2qm40",
    category: str = "Films",
    token: str | None = None,
    origin: str = LIVE,
) -> dict[str, Any]:
    """Return one live search item; ``token=None`` gives a token that expires in 2100."""
    jwt = token if token is not None else make_jwt(4_102_444_800.0, sub="user")
    return {
        "title": title,
        "guid": guid,
        "size": 7_549_978_849,
        "pubDate": "2026-04-17T21:41:56.126Z",
        "link": f"{origin}/torrents/dhk2m9qpxw4e",
        "downloadLink": f"{origin}/api/download/{info_hash}?token={jwt}",
        "category": category,
        "seeders": 0,
        "leechers": 0,
        "infoHash": info_hash,
    }


LIVE_SEARCH: list[dict[str, Any]] = [
    live_item("1" * 40),
    live_item(
        "2" * 40,
        title="Vangelis - Le Grand Bleu - FLAC 16bit 44.1 kHz - 1988 - NOTAG",
        guid="d6q0r2fv871c73b4kd10",
        category="Musique",
    ),
    live_item("3" * 40, title="Le.Grand.Bleu.1988.720p", guid="cmk0a1b2c0003xyzab12cd34e"),
]
"""Three results: two xid guids and one cuid, a film and an album (fewer than 50 is normal)."""


def _leaf(id_: str, name: str, slug: str, parent: str) -> dict[str, Any]:
    return {
        "id": id_,
        "name": name,
        "slug": slug,
        "icon": None,
        "parentId": parent,
        "children": None,
    }


LIVE_META: dict[str, Any] = {
    "categories": [
        {
            "id": "cmk1aut0000000000000000aa",
            "name": "Autres",
            "slug": "autres",
            "icon": "Compass",
            "parentId": None,
            "children": None,
        },
        {
            "id": "cmk1aud0000000000000000bb",
            "name": "Audio",
            "slug": "audio",
            "icon": "Music",
            "parentId": None,
            "children": [
                _leaf("d5e1podcsup7s73aaaa0", "Podcast", "podcast", "cmk1aud0000000000000000bb"),
                {
                    "id": "cmk1mus0000000000000000cc",
                    "name": "Musique",
                    "slug": "music",
                    "icon": None,
                    "parentId": "cmk1aud0000000000000000bb",
                    "children": [
                        _leaf(
                            "cmk1fla0000000000000000dd", "FLAC", "flac", "cmk1mus0000000000000000cc"
                        ),
                        _leaf(
                            "cmk1mp30000000000000000ee", "MP3", "mp3", "cmk1mus0000000000000000cc"
                        ),
                    ],
                },
            ],
        },
        {
            "id": "cmk1gam0000000000000000ff",
            "name": "Jeux",
            "slug": "games",
            "icon": "Gamepad2",
            "parentId": None,
            "children": [
                _leaf(
                    "cmk1tel0000000000000000gg",
                    "Téléphones",
                    "t-l-phones",
                    "cmk1gam0000000000000000ff",
                ),
                _leaf("d5hbpcsua6hc73aaaa00", "PC", "pc", "cmk1gam0000000000000000ff"),
            ],
        },
        {
            "id": "cmk1xxx0000000000000000hh",
            "name": "XXX",
            "slug": "xxx",
            "icon": "Image",
            "parentId": None,
            "children": None,
        },
    ],
    "tagGroups": [
        {
            "id": "cmk1gen0000000000000000ii",
            "name": "Genres",
            "slug": "genres",
            "order": 30,
            "tags": None,
        },
        {
            "id": "9b0c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d",
            "name": "Qualité / Résolution",
            "slug": "qualit-r-solution",
            "order": 40,
            "tags": None,
        },
        {
            "id": "cmk1bit0000000000000000jj",
            "name": "Qualité / Bitrate",
            "slug": "qualit-bitrate",
            "order": 130,
            "tags": [
                {"id": "cmk1t320000000000000000kk", "name": "320 kbps", "slug": "320-kbps"},
                {"id": "cmk1tlo0000000000000000ll", "name": "Lossless", "slug": "lossless"},
            ],
        },
    ],
    "ungroupedTags": [
        {"id": "d5gh6vosup7s73c8aaa0", "name": "VOSTFR", "slug": "vostfr"},
        {"id": "cmk1epi0000000000000000mm", "name": "Épisodes", "slug": "pisodes"},
    ],
}
"""A cut-down live /meta: three levels, null children and tags, three id shapes."""

HIDDEN_TAG_ID = "d5q1080sup7s73c8bbb0"
"""A tag id a user copied from the site: its group ("Qualité / Résolution") lists no tags."""

LIVE_AUTH_ERROR = {"error": "Invalid API key"}
"""The live answer to a wrong key, with status 401."""
