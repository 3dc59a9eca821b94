"""Identifiers shaped like the tracker's: cuid-style ids and URL slugs."""

from __future__ import annotations

import base64
import hashlib
import random
import re
import unicodedata
import uuid

__all__ = [
    "cuid_at",
    "cuid_from_rng",
    "live_slugify",
    "page_id",
    "slugify",
    "stable_cuid",
    "stable_uuid",
    "stable_xid",
    "xid_at",
]

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_CUID_LENGTH = 25
_NON_WORD = re.compile(r"[^a-z0-9]+")
# The 5 bytes after an xid's timestamp (machine id and process id): one fixed "server".
_XID_MACHINE = bytes.fromhex("3cf64fc38d")


def _base36(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, rest = divmod(number, 36)
        digits.append(_ALPHABET[rest])
    return "".join(reversed(digits))


def stable_cuid(namespace: str, name: str) -> str:
    """Return a cuid-like id that depends only on ``namespace`` and ``name``.

    Categories and tags get ids that do not change with the catalogue seed, so a test can
    hard-code one if it really wants to.

    Args:
        namespace: What kind of object is named ("category", "tag"...).
        name: The object's slug.

    Returns:
        25 lowercase base-36 characters starting with ``c``, like ``cmjoyv2cd00027eryreyk39gz``.
    """
    digest = _digest(namespace, name)
    return "cm" + _base36(int.from_bytes(digest, "big"), _CUID_LENGTH - 2)


def cuid_from_rng(rng: random.Random) -> str:
    """Return a cuid-like id drawn from ``rng`` (deterministic for a seeded generator).

    Args:
        rng: The generator to draw from.

    Returns:
        25 lowercase base-36 characters starting with ``c``.
    """
    return "c" + _base36(rng.getrandbits(128), _CUID_LENGTH - 1)


def slugify(text: str) -> str:
    """Return the URL slug of ``text`` the way the site builds them.

    Accented letters lose their accent first ("Séries TV" -> "series-tv"); the site's own
    "h-t-ro" slug for "Hétéro" predates that and is kept verbatim in the taxonomy.

    Args:
        text: Any title or name.

    Returns:
        Lowercase ASCII words joined by ``-`` (``"torrent"`` if nothing is left).
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = _NON_WORD.sub("-", ascii_text.lower()).strip("-")
    return slug or "torrent"


def xid_at(epoch_s: int, rng: random.Random) -> str:
    """Return an xid (20 characters of base32hex) minted at ``epoch_s``, like the live guids.

    The live tracker's newer ids are xids whose first 4 bytes are the creation time: the guid
    ``d7hai97v871c73dbcaq0`` decodes to the second of its ``pubDate`` (torrent-mate's sample).

    Args:
        epoch_s: Creation time, Unix seconds.
        rng: Draws the 3-byte counter.

    Returns:
        The id, lowercase (``d5…`` for January 2026).
    """
    raw = epoch_s.to_bytes(4, "big") + _XID_MACHINE + rng.getrandbits(24).to_bytes(3, "big")
    return base64.b32hexencode(raw).decode("ascii").rstrip("=").lower()


def cuid_at(epoch_ms: int, rng: random.Random) -> str:
    """Return a cuid (25 characters) whose timestamp part is ``epoch_ms``, like older live ids.

    Args:
        epoch_ms: Creation time, Unix milliseconds.
        rng: Draws the counter, fingerprint and random parts.

    Returns:
        ``c`` + 8 base-36 digits of time + 16 more, like ``cmjuy63yh002t01mvbcjehgax``.
    """
    return "c" + _base36(epoch_ms, 8) + _base36(rng.getrandbits(83), _CUID_LENGTH - 9)


def _digest(namespace: str, name: str) -> bytes:
    return hashlib.sha256(f"lacale-sandbox:{namespace}:{name}".encode()).digest()


def stable_xid(namespace: str, name: str) -> str:
    """Return an xid-shaped id that depends only on ``namespace`` and ``name``.

    Its time part is in January 2026, when the live tracker's xid-shaped ids appeared.
    """
    digest = _digest(namespace, name)
    epoch_s = 1_767_225_600 + int.from_bytes(digest[:3], "big") % (31 * 86_400)
    raw = epoch_s.to_bytes(4, "big") + _XID_MACHINE + digest[3:6]
    return base64.b32hexencode(raw).decode("ascii").rstrip("=").lower()


def stable_uuid(namespace: str, name: str) -> str:
    """Return a version-4-shaped UUID that depends only on ``namespace`` and ``name``."""
    return str(uuid.UUID(bytes=_digest(namespace, name)[:16], version=4))


def live_slugify(text: str) -> str:
    """Return the slug the live site derives from a name: every run of other characters is a dash.

    Accented letters are not folded: "Téléphones" is ``t-l-phones``, "Économie" ``conomie``,
    "Qualité / Résolution" ``qualit-r-solution`` (all recorded in the live ``/meta``).

    Args:
        text: A category, tag group or tag name.

    Returns:
        Lowercase ASCII letters and digits joined by ``-`` (``"x"`` if nothing is left).
    """
    return _NON_WORD.sub("-", text.lower()).strip("-") or "x"


def page_id(guid: str) -> str:
    """Return the live torrent page's id for ``guid``: 12 base-36 characters (``dhvr9hpmlflp``).

    The live ``link`` is ``/torrents/<id>``, an id of its own, not the title's slug.
    """
    number = int.from_bytes(_digest("page", guid), "big")
    return _base36(number, 12)
