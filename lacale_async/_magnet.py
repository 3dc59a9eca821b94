"""Magnet URIs for torrents known by info hash."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

from ._errors import ValidationError
from ._options import describe
from ._validation import check_text, is_info_hash

__all__ = ["magnet_uri"]


def magnet_uri(info_hash: str, name: str | None = None, trackers: Sequence[str] = ()) -> str:
    """Build a magnet URI for a v1 (40 hex) or v2 (64 hex) info hash.

    A private tracker's swarm is only reachable through its announce URL, which carries the
    user's passkey: a magnet without ``trackers`` finds no peers on La Cale, and a magnet is
    never a substitute for the .torrent when cross-seeding.

    Args:
        info_hash: Hex info hash, 40 characters (SHA-1, v1) or 64 (SHA-256, v2), any case.
        name: Display name (``dn``), URL-encoded in the result.
        trackers: Announce URLs to add as ``tr`` parameters, in order.

    Returns:
        The magnet URI.

    Raises:
        ValidationError: ``info_hash`` is not 40 or 64 hexadecimal characters, ``trackers``
            is not a list or tuple of strings, or a text cannot be encoded (lone surrogates).
    """
    if not is_info_hash(info_hash):
        raise ValidationError("an info hash must be 40 or 64 hexadecimal characters")
    if isinstance(trackers, str):
        # A lone URL would otherwise be iterated character by character.
        raise ValidationError("trackers must be a sequence of URLs, not a single string")
    if not isinstance(trackers, (list, tuple)):
        raise ValidationError(f"trackers must be a list or tuple of URLs, not {describe(trackers)}")
    check_text(name, "name")
    for tracker in trackers:
        if not isinstance(tracker, str) or not tracker:
            raise ValidationError(f"each tracker must be a URL, not {describe(tracker)}")
        check_text(tracker, "each tracker")
    h = str.lower(info_hash)  # the base method: a str subclass's own could say otherwise
    # BEP 9 names v1 torrents by btih; BEP 52 names v2 ones by a multihash (0x12 0x20 = sha2-256).
    xt = f"urn:btmh:1220{h}" if len(h) == 64 else f"urn:btih:{h}"
    parts = [f"xt={xt}"]
    if name:
        parts.append("dn=" + quote(name, safe=""))
    parts.extend("tr=" + quote(t, safe="") for t in trackers)
    return "magnet:?" + "&".join(parts)
