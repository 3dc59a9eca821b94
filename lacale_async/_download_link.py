"""Deciding whether a search result's ``downloadLink`` may be used instead of the key.

The live tracker adds ``downloadLink`` to search results: ``https://la-cale.space/api/download/
<infoHash>?token=<JWT>``, a time-bound token that downloads the torrent without the API key
(recorded from the live API by IznoCorp/torrent-mate, ``docs/reference/lacale-api.md`` and
``_samples/lacale/search-inception.json``, 2026-05). Neither documentation page mentions it: the
documented way is ``/api/torrents/download/<infoHash>`` with the key.

The link is only used when it points at the client's own origin, names the torrent asked for,
and its token has not expired. The SDK cannot verify the token's signature (the secret is the
tracker's), so it only reads the JWT's ``exp`` claim to avoid sending a request it knows will
be refused.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

import msgspec
from yarl import URL

from ._origin import MIN_KEY_LENGTH

__all__ = ["EXPIRY_MARGIN", "LinkTarget", "link_target", "link_token", "maskable", "token_expiry"]

EXPIRY_MARGIN = 30.0
"""Seconds before ``exp`` from which a token counts as expired: the request, its queueing on the
limiter and a small clock difference with the tracker must fit before the deadline."""

# Credentials the link must not carry to the tracker on the SDK's behalf: the key never travels
# with a token request (the token alone is enough live, and less exposure is better).
_KEY_PARAMS = frozenset({"apikey", "api_key", "passkey"})


class _Claims(msgspec.Struct):
    exp: float | None = None


_CLAIMS_DECODER = msgspec.json.Decoder(_Claims)


@dataclass(frozen=True)
class LinkTarget:
    """A same-origin ``downloadLink`` the client may request without the key.

    Attributes:
        path: The path relative to the client's base URL, as the transport takes it.
        params: The link's query (its ``token``), to send as is; never shown unredacted.
    """

    path: str
    params: dict[str, str] = field(repr=False)


def token_expiry(token: str) -> float | None:
    """Return a JWT's ``exp`` claim (Unix seconds) without verifying it, or None.

    Args:
        token: The token text; anything that is not a JWT with a numeric ``exp`` gives None.

    Returns:
        The expiry time, or None when the token says nothing the SDK can read.
    """
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1]
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        return _CLAIMS_DECODER.decode(raw).exp
    except (binascii.Error, ValueError, msgspec.DecodeError):
        # ValueError also covers non-ASCII text in the payload part.
        return None


def link_target(
    link: str | None, *, base_url: str, info_hash: str, now: float
) -> LinkTarget | None:
    """Return how to request ``link``, or None when the documented path must be used instead.

    Args:
        link: ``Torrent.download_link``.
        base_url: The client's base URL (origin and optional path prefix).
        info_hash: The torrent asked for, lowercase; the link must end with it.
        now: Current Unix time, compared with the token's ``exp``.

    Returns:
        The target, or None for no link, another origin (never requested with anything of the
        client's: the key stays home), a link for another torrent, no token, or an expired one.
    """
    if not isinstance(link, str) or not link:
        # A Torrent built by the caller (msgspec does not check __init__'s types).
        return None
    try:
        url = URL(link)
        base = URL(base_url)
        same_origin = url.is_absolute() and url.origin() == base.origin()
    except ValueError:
        return None
    prefix = base.path.rstrip("/")
    path = url.path
    if not same_origin or not path.startswith(prefix + "/"):
        return None
    if path.rstrip("/").rsplit("/", 1)[-1].lower() != info_hash:
        return None
    params = {k: v for k, v in url.query.items() if k.lower() not in _KEY_PARAMS}
    token = params.get("token")
    if not token:
        return None
    expiry = token_expiry(token)
    if expiry is not None and expiry - EXPIRY_MARGIN <= now:
        return None
    return LinkTarget(path=path[len(prefix) :], params=params)


def link_token(link: str | None) -> str | None:
    """Return a download link's token, whatever its origin, or None (none, or too short to mask)."""
    try:
        token = URL(link).query.get("token") if isinstance(link, str) and link else None
    except ValueError:
        return None
    return token if token is not None and maskable(token) else None


def maskable(token: str) -> bool:
    """Tell whether a token is long enough to be masked in text without garbling it.

    As short a token as a key may be: a shorter one (``"ab"``) would be found inside hashes
    and ordinary words.
    """
    return len(token) >= MIN_KEY_LENGTH
