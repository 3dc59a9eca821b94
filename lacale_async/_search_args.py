"""A search's arguments, checked and turned into its cache key and query parameters.

Bots repeat the same few searches: the result of each check is remembered per client, so a
cache hit costs about as much as a dict lookup. Only what passed validation is remembered, under
a key that no invalid input can equal (see :func:`_memo_key`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import msgspec

from ._bulk import SearchQuery, as_queries
from ._errors import ValidationError
from ._normalize import normalize_query, search_cache_key
from ._transport import NO_PARAMS, Params
from ._validation import check_categories, check_query, check_tmdb_id

__all__ = ["SearchArgs"]

# Searches whose validation and cache key are remembered per client (cleared when full).
_REMEMBERED = 256


class SearchArgs:
    """Checks a client's search arguments and builds their cache key and parameters, once each.

    Args:
        scope: The client's scope, the first part of every cache key.
        allow_empty: Accept searches with neither a query nor a TMDB id.

    Attributes:
        memo: Checked searches: memo key -> (cache key, params). ``search("text")`` is
            remembered under the text alone, which the client's inlined hit path looks up.
    """

    __slots__ = ("_allow_empty", "_scope", "_text_key", "memo")

    def __init__(self, scope: str, *, allow_empty: bool) -> None:
        self._scope = scope
        self._text_key = f"search\x1f{scope}\x1f"  # a text-only key's start, see prepare_text
        self._allow_empty = allow_empty
        self.memo: dict[object, tuple[str, Params]] = {}

    def prepare(
        self, query: str | None, categories: str | Sequence[str], tmdb_id: int | str | None
    ) -> tuple[str, Params]:
        """Check one search and return its cache key and query parameters.

        Raises:
            ValidationError: Input the API would refuse (see ``LaCaleClient.search``).
        """
        if categories.__class__ is list:
            categories = tuple(categories)
        memo_key = _memo_key(query, categories, tmdb_id)
        known = self.memo.get(memo_key) if memo_key is not None else None
        if known is not None:
            return known
        q = check_query(query)
        if categories == () and tmdb_id is None:
            self.refuse_empty(q, None)
            # search("text"), the commonest call: nothing else to check or encode.
            prepared: tuple[str, Params] = (
                search_cache_key(self._scope, q, (), None),
                {"q": q} if q else NO_PARAMS,
            )
        else:
            cats = check_categories(categories)
            tmdb = check_tmdb_id(tmdb_id)
            self.refuse_empty(q, tmdb)
            params: dict[str, str | tuple[str, ...]] = {"q": q} if q else {}
            if cats:
                params["cat"] = cats
            if tmdb is not None:
                params["tmdbId"] = tmdb
            prepared = (search_cache_key(self._scope, q, cats, tmdb), params)
        if memo_key is not None:
            if len(self.memo) >= _REMEMBERED:
                self.memo.clear()
            self.memo[memo_key] = prepared
        return prepared

    def prepare_text(self, query: str) -> tuple[str, Params]:
        """:meth:`prepare` for ``search("text")`` alone, whose memo the client looked up already.

        The same checks, key and memo entry as :meth:`prepare` (tested against it), without the
        memo key, the second lookup and the branches for categories and TMDB id: a miss on a
        new text is the throughput bench's whole workload.

        Raises:
            ValidationError: Input the API would refuse (see ``LaCaleClient.search``).
        """
        q = check_query(query)
        if not query.strip():
            self.refuse_empty(q, None)
        # search_cache_key(scope, q, (), None), without its work for categories and TMDB id.
        prepared = (self._text_key + normalize_query(q) + "\x1f\x1f", {"q": q} if q else NO_PARAMS)
        memo = self.memo
        if len(memo) >= _REMEMBERED:
            memo.clear()
        memo[query] = prepared
        return prepared

    def request_key(self, item: SearchQuery) -> str:
        """Return the cache key of a query already checked by :meth:`check_batch`."""
        return self.prepare(item.query, item.categories, item.tmdb_id)[0]

    def check_batch(self, queries: Iterable[str | SearchQuery]) -> list[SearchQuery]:
        """Check every query of a batch before anything is sent; return them as SearchQuery.

        Raises:
            ValidationError: The first query the API would refuse.
        """
        items: list[SearchQuery] = []
        for q in as_queries(queries):
            self.refuse_empty(check_query(q.query), check_tmdb_id(q.tmdb_id))
            cats = check_categories(q.categories)
            if cats != q.categories:
                # A list given for categories would make the query unhashable downstream.
                q = msgspec.structs.replace(q, categories=cats)
            items.append(q)
        return items

    def refuse_empty(self, query: str | None, tmdb_id: str | None) -> None:
        """Refuse, before sending, a search the live tracker answers 400 (no query, no TMDB id).

        Prowlarr's definition says "API dont accept empty request" and, like Jackett's, sends
        ``q=FRENCH`` when it has no keywords; the documentation calls ``q`` optional.

        Raises:
            ValidationError: Neither a query nor a TMDB id, and empty searches not allowed.
        """
        if tmdb_id is None and (query is None or not query.strip()) and not self._allow_empty:
            raise ValidationError(
                "a search needs a query or a TMDB id: the live tracker refuses searches without "
                "one (Prowlarr and Jackett send q='FRENCH' to list recent releases)",
                option="allow_empty_search",
                hint="for a server that accepts them, create the client with "
                "allow_empty_search=True",
            )


def _memo_key(query: object, categories: object, tmdb_id: object) -> object | None:
    """Return the memo key of a search, or None when it must not be remembered.

    Only exact builtin types are remembered (str or None query, str or tuple-of-str categories,
    int, str or None TMDB id), and their equality is the builtin one, so an input that merely
    compares equal to a validated one (``True == 1``, ``1.0 == 1``, a str subclass or any
    object with its own ``__eq__``) never reuses its validation. The types of categories and
    TMDB id are in the key, so ``"films"`` and ``("films",)``, or ``1`` and ``"1"``, are kept
    apart even though they validate alike. ``search("text")`` is keyed by the text alone: the
    client's inlined fast path looks it up that way.
    """
    if query is not None and query.__class__ is not str:
        return None
    if tmdb_id is not None and tmdb_id.__class__ is not int and tmdb_id.__class__ is not str:
        return None
    if type(categories) is tuple:
        if not all(type(c) is str for c in categories):
            return None
        if not categories and tmdb_id is None and query is not None:
            return query
    elif type(categories) is not str:
        return None
    return (query, categories.__class__, categories, tmdb_id.__class__, tmdb_id)
