"""SearchArgs: a search's checks, cache key and query parameters, remembered per client."""

from __future__ import annotations

from typing import Any

import pytest

from lacale_async import SearchQuery, ValidationError
from lacale_async import _search_args as module
from lacale_async._search_args import _REMEMBERED, SearchArgs

SCOPE = "ab12"
EMPTY_REASON = (
    "a search needs a query or a TMDB id: the live tracker refuses searches without one "
    "(Prowlarr and Jackett send q='FRENCH' to list recent releases)"
)
EMPTY_HINT = "for a server that accepts them, create the client with allow_empty_search=True"


def key(query: str = "", cats: str = "", tmdb: str = "") -> str:
    """The documented key layout, spelled out: fields joined by \\x1f, tmdb last."""
    return f"search\x1f{SCOPE}\x1f{query}\x1f{cats}\x1f{tmdb}"


def strict() -> SearchArgs:
    return SearchArgs(SCOPE, allow_empty=False)


def test_a_text_search_sends_the_text_under_a_normalised_key() -> None:
    args = strict()
    assert args.prepare("  Amélie ", (), None) == (key("amelie"), {"q": "  Amélie "})
    # Remembered under the text alone: the client's inlined hit path looks it up that way.
    assert list(args.memo) == ["  Amélie "]


def test_categories_and_tmdb_id_become_cat_and_tmdbId() -> None:
    cache_key, params = strict().prepare("Dune", ["series", "films"], " 603 ")
    assert cache_key == key("dune", '["films","series"]', "603")
    # The key sorts the slugs; the request keeps them as given.
    assert params == {"q": "Dune", "cat": ("series", "films"), "tmdbId": "603"}


def test_a_tmdb_id_alone_sends_no_q() -> None:
    assert strict().prepare(None, (), 603) == (key(tmdb="603"), {"tmdbId": "603"})
    assert strict().prepare("", "films", 603) == (
        key(cats='["films"]', tmdb="603"),
        {"cat": ("films",), "tmdbId": "603"},
    )


def test_an_allowed_empty_search_sends_no_parameters() -> None:
    cache_key, params = SearchArgs(SCOPE, allow_empty=True).prepare(None, (), None)
    assert (cache_key, dict(params)) == (key(), {})


@pytest.mark.parametrize(
    ("query", "categories", "tmdb_id"),
    [(None, (), None), ("   ", (), None), ("", "films", None), (None, ["films"], None)],
)
def test_an_empty_search_is_refused_with_the_option_that_allows_it(
    query: str | None, categories: Any, tmdb_id: int | None
) -> None:
    args = strict()
    with pytest.raises(ValidationError) as refused:
        args.prepare(query, categories, tmdb_id)
    assert refused.value.reason == EMPTY_REASON
    assert refused.value.option == "allow_empty_search"
    assert refused.value.hint == EMPTY_HINT
    assert str(refused.value) == f"{EMPTY_REASON}; {EMPTY_HINT}"
    assert args.memo == {}  # a refusal is never remembered


def test_refuse_empty_lets_a_query_a_tmdb_id_or_an_allowing_client_through() -> None:
    args = strict()
    args.refuse_empty("dune", None)
    args.refuse_empty(None, "603")
    args.refuse_empty("  ", "603")
    SearchArgs(SCOPE, allow_empty=True).refuse_empty("  ", None)
    with pytest.raises(ValidationError, match="a search needs a query or a TMDB id"):
        args.refuse_empty(" \t", None)


@pytest.mark.parametrize(
    ("query", "categories", "tmdb_id", "message"),
    [
        ("x" * 201, (), None, "query is 201 characters long; the API accepts at most 200"),
        (5, (), None, "query must be a string or None, not int"),
        ("x", "films,series", None, "'films,series' is not a category slug"),
        ("x", ["films", ""], None, "category slugs must be non-empty strings, got ''"),
        ("x", (), "12a", "tmdb_id must be digits (a TMDB id such as 603), got '12a'"),
        ("x", (), True, "tmdb_id must be an int or a string, not bool"),
        ("x", (), -1, "tmdb_id must be a non-negative integer of at most 64 digits"),
    ],
)
def test_input_the_api_would_refuse_is_refused_and_not_remembered(
    query: Any, categories: Any, tmdb_id: Any, message: str
) -> None:
    args = strict()
    with pytest.raises(ValidationError) as refused:
        args.prepare(query, categories, tmdb_id)
    assert str(refused.value).startswith(message)
    assert args.memo == {}


def test_a_remembered_search_is_answered_without_checking_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    args = strict()
    first = args.prepare("dune", ("films",), 603)

    def fail(*_: object) -> None:
        raise AssertionError("checked again")

    monkeypatch.setattr(module, "check_query", fail)
    assert args.prepare("dune", ("films",), 603) is first
    # A list of slugs is remembered as the tuple it is turned into.
    assert args.prepare("dune", ["films"], 603) is first


def test_inputs_that_only_compare_equal_to_a_checked_one_are_checked_anew() -> None:
    args = strict()
    args.prepare("x", (), 1)
    with pytest.raises(ValidationError, match="not bool"):
        args.prepare("x", (), True)  # True == 1
    with pytest.raises(ValidationError, match="not float"):
        args.prepare("x", (), 1.0)  # type: ignore[arg-type]  # 1.0 == 1


class Text(str):
    """A str subclass: it may define its own equality, so its checks are never reused."""


class Id(int):
    """An int subclass, for the same reason."""


def test_values_that_validate_alike_are_remembered_apart_under_one_cache_key() -> None:
    args = strict()
    assert args.prepare("x", "films", 1)[0] == args.prepare("x", ("films",), "1")[0]
    assert len(args.memo) == 2  # str and tuple categories, int and str TMDB id
    assert args.prepare(Text("X"), (), None) == (key("x"), {"q": "X"})
    assert args.prepare("x", "films", Id(1))[0] == key("x", '["films"]', "1")
    assert len(args.memo) == 2  # subclasses are checked but not remembered


def test_the_memo_is_cleared_when_full() -> None:
    args = strict()
    for i in range(_REMEMBERED):
        args.prepare(f"q{i}", (), None)
    assert len(args.memo) == _REMEMBERED
    args.prepare("one more", ("films",), None)
    assert list(args.memo) == [("one more", tuple, ("films",), type(None), None)]


def test_prepare_text_shares_the_memo_and_its_bound() -> None:
    args = strict()
    for i in range(_REMEMBERED):
        args.prepare_text(f"q{i}")
    assert len(args.memo) == _REMEMBERED
    prepared = args.prepare_text("Dune")
    assert prepared == (key("dune"), {"q": "Dune"})
    assert args.memo == {"Dune": prepared}
    assert args.prepare("Dune", (), None) is prepared  # a hit for the general path


def test_check_batch_returns_every_query_as_a_searchquery_with_tuple_categories() -> None:
    batch = strict().check_batch(
        ["dune", SearchQuery(None, "films", 603), SearchQuery("x", ["a", "b"])]  # type: ignore[arg-type]
    )
    assert batch == [
        SearchQuery("dune"),
        SearchQuery(None, ("films",), 603),
        SearchQuery("x", ("a", "b")),
    ]
    # Hashable: the batch deduplicates its queries.
    assert len(set(batch)) == 3


@pytest.mark.parametrize(
    ("queries", "message"),
    [
        (["fine", SearchQuery("  "), "x" * 201], EMPTY_REASON),
        (["fine", SearchQuery("x", ("a b",)), SearchQuery()], "'a b' is not a category slug"),
        (["fine", "x" * 201, SearchQuery()], "query is 201 characters long"),
        ("dune", "queries must be an iterable of queries, not a single string"),
        (["fine", 3], "a query must be a str or a SearchQuery, not 3"),
    ],
)
def test_check_batch_refuses_the_first_bad_query_before_anything(
    queries: Any, message: str
) -> None:
    args = strict()
    with pytest.raises(ValidationError) as refused:
        args.check_batch(queries)
    assert str(refused.value).startswith(message)
    assert args.memo == {}  # nothing was prepared, let alone sent


def test_request_key_is_the_key_prepare_gives() -> None:
    args = strict()
    (item,) = args.check_batch([SearchQuery("Dune", ["series", "films"], " 603 ")])  # type: ignore[arg-type]
    assert args.request_key(item) == key("dune", '["films","series"]', "603")
    assert args.request_key(item) == args.prepare("dune ", ("films", "series"), 603)[0]


class _Slug(str):
    """A str subclass, as a framework's enum-like or validated string type would be."""


def test_a_str_subclass_category_is_searched_as_its_plain_text() -> None:
    # Regression: the subclass reached msgspec's key encoder, which raised a bare TypeError.
    args = SearchArgs("ab12", allow_empty=False)
    plain = args.prepare("x", ("films",), None)
    assert args.prepare("x", (_Slug("films"),), None) == plain
    assert args.prepare("x", _Slug("films"), None) == plain
    query = SearchQuery("x", categories=(_Slug("films"),))
    (checked,) = args.check_batch([query])
    assert args.request_key(checked) == args.request_key(SearchQuery("x", categories=("films",)))
