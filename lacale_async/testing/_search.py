"""Search semantics of ``GET /api/external``: query normalisation, filters, order, limit."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from .._errors import ValidationError
from .._options import describe
from ._catalogue import CatalogueTorrent

__all__ = ["MAX_RESULTS", "matches", "normalise", "run_search"]

MAX_RESULTS = 50
"""The API never returns more results than this."""

# Letters NFKD does not decompose but users type without the ligature.
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss", "ø": "o", "đ": "d", "ł": "l"})
# Release names use dots, underscores and dashes where titles use spaces.
_SEPARATORS = re.compile(r"[\s._\-]+")


def normalise(text: str) -> str:
    """Return ``text`` the way the tracker compares it: lowercase, without accents.

    Dots, underscores and dashes count as spaces and runs of spaces collapse, so
    ``"  AMÉLIE "``, ``"amelie"`` and ``"Amélie"`` are the same query and ``"Le.Dîner"``
    matches ``"le diner"``.

    Args:
        text: A query or a title.

    Returns:
        The normalised text, stripped.

    Raises:
        ValidationError: ``text`` is not a string.
    """
    # Only the type: nothing is encoded here, and a query the sandbox decoded with lone
    # surrogates must still be searched, not refused with a 500.
    if not isinstance(text, str):
        raise ValidationError(f"normalise() takes a string, not {describe(text)}")
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_LIGATURES))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SEPARATORS.sub(" ", bare).strip()


def matches(words: Iterable[str], normalised_title: str) -> bool:
    """Return True when every query word occurs in the normalised title."""
    return all(word in normalised_title for word in words)


def run_search(
    torrents: Iterable[CatalogueTorrent],
    *,
    query: str,
    category_ids: frozenset[str] | None,
    tmdb_id: str | None,
) -> list[CatalogueTorrent]:
    """Filter, sort and cut the catalogue the way the search endpoint does.

    Args:
        torrents: Every torrent the tracker knows.
        query: The normalised query ("" matches everything).
        category_ids: Category ids to keep (docs profile: a parent already expanded to its
            descendants; live: only those named), or None for every category.
        tmdb_id: Exact TMDB id to keep, or None.

    Returns:
        Approved matches, newest first, at most :data:`MAX_RESULTS`.
    """
    words = query.split()
    found = [
        t
        for t in torrents
        if t.approved
        and (category_ids is None or t.category.id in category_ids)
        and (tmdb_id is None or t.tmdb_id == tmdb_id)
        and matches(words, normalise(t.title))
    ]
    # Ties on the millisecond are broken by guid so the order never depends on insertion.
    found.sort(key=lambda t: (t.published_ms, t.guid), reverse=True)
    return found[:MAX_RESULTS]
