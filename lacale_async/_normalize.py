"""Query normalisation and search cache keys, mirroring what the tracker treats as equal."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

import msgspec

__all__ = ["normalize_query", "search_cache_key"]


# The combining diacritics block, what "accents removed" strips (the usual NFD idiom).
_ACCENTS = re.compile("[\u0300-\u036f]+")
# Acute, grave, circumflex, diaeresis, cedilla, tilde, ring: most accents in French text.
_COMMON_MARKS = ("\u0301", "\u0300", "\u0302", "\u0308", "\u0327", "\u0303", "\u030a")


def _latin1_fold_table() -> bytes:
    """Map each Latin-1 byte to its lowercased, unaccented ASCII letter, where it has one.

    A byte whose folding is not one ASCII character ("ß", "ø", a no-break space) maps to
    itself, so a folded query that is not pure ASCII goes through the general path.
    """
    table = bytearray(range(256))
    for byte in range(256):
        folded = _ACCENTS.sub("", unicodedata.normalize("NFD", chr(byte).lower()))
        if len(folded) == 1 and folded.isascii():
            table[byte] = ord(folded)
    return bytes(table)


# Latin-1 holds no combining mark, so NFD acts on each of its characters alone and the
# per-byte table gives exactly the general path's result whenever that result is ASCII.
_LATIN1_FOLD = _latin1_fold_table()


def normalize_query(q: str | None) -> str:
    """Return ``q`` the way the tracker compares it: lowercase, unaccented, spaces collapsed.

    The tracker lowercases the query and removes accents before searching, so ``"Amélie"``
    and ``"amelie "`` return the same torrents and may share one cache entry.

    The folding is deliberately no broader than the documented one (``lower()``, not
    ``casefold()``; NFD, not NFKD; only the combining diacritics block): a cache key may be
    finer than the tracker's equivalence (a missed sharing costs one request) but never
    coarser (that would answer one query with another's results).

    Args:
        q: The search text, or None.

    Returns:
        The normalised text ("" for None or blank input).
    """
    if not q:
        return ""
    if not q.isascii():
        # French and most Western European text: one pass of a 256-byte table, without the
        # Unicode tables (lowercasing, NFD) the general path walks.
        try:
            folded = q.encode("latin-1").translate(_LATIN1_FOLD)
        except UnicodeEncodeError:
            pass
        else:
            if folded.isascii():
                return " ".join(folded.decode("ascii").split())
    lowered = q.lower()
    if not lowered.isascii():
        # Lowercase first: "İ".lower() is "i" + a combining dot, which then goes too.
        lowered = unicodedata.normalize("NFD", lowered)
        # str.replace of the marks French and most Latin text use is three times faster
        # than the regex, which then only runs for rarer marks; most text is plain ASCII
        # again after the first mark or two.
        for mark in _COMMON_MARKS:
            if mark in lowered:
                lowered = lowered.replace(mark, "")
                if lowered.isascii():
                    break
        else:
            if not lowered.isascii():
                lowered = _ACCENTS.sub("", lowered)
    return " ".join(lowered.split())


def search_cache_key(
    scope: str,
    query: str | None,
    categories: Iterable[str] | None,
    tmdb_id: str | int | None,
) -> str:
    """Return the cache key of one search: equal for searches the tracker answers alike.

    Args:
        scope: The client's opaque scope (derived from key and base URL, never the key).
        query: The search text; normalised with :func:`normalize_query`.
        categories: Category slugs; order and duplicates do not matter.
        tmdb_id: The TMDB id, as ``str`` or ``int``, or None.

    Returns:
        A string key; two scopes never share a key.
    """
    # JSON keeps category names apart whatever they contain ("a,b" is not "a", "b").
    cats = msgspec.json.encode(sorted(set(categories))).decode() if categories else ""
    tmdb = "" if tmdb_id is None else str(tmdb_id).strip()
    # \x1f cannot occur in a normalised query (str.split() treats it as whitespace), in the
    # scope (hex), or unescaped in JSON, so the fields cannot run into each other; tmdb is last.
    return f"search\x1f{scope}\x1f{normalize_query(query)}\x1f{cats}\x1f{tmdb}"
