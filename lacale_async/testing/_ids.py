"""Identifiers shaped like the tracker's: cuid-style ids and URL slugs."""

from __future__ import annotations

import hashlib
import random
import re
import unicodedata

__all__ = ["cuid_from_rng", "slugify", "stable_cuid"]

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_CUID_LENGTH = 25
_NON_WORD = re.compile(r"[^a-z0-9]+")


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
    digest = hashlib.sha256(f"lacale-sandbox:{namespace}:{name}".encode()).digest()
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
