"""normalize_query and search_cache_key: equal for what the tracker answers alike."""

from __future__ import annotations

import re
import unicodedata

import pytest

from lacale_async._errors import ValidationError
from lacale_async._normalize import normalize_query, search_cache_key
from lacale_async._search_args import SearchArgs


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, ""),
        ("", ""),
        ("   ", ""),
        ("Amélie", "amelie"),
        ("amelie ", "amelie"),
        ("  One   Piece\t\n", "one piece"),
        ("ÉLÉPHANT Çà", "elephant ca"),
        ("Crème Brûlée", "creme brulee"),
        # No broader than the tracker's folding: a coarser key would mix up answers.
        ("Straße", "straße"),  # lower(), not casefold()
        ("\uff21\uff22\uff23", "\uff41\uff42\uff43"),  # NFD keeps full-width letters
        ("İstanbul", "istanbul"),  # lower() yields i + combining dot, which goes too
        ("Москва", "москва"),  # other scripts are kept, only lowercased
        ("ﬁlm", "ﬁlm"),  # compatibility ligatures are not folded
        ("Pokémon\u00a0XY", "pokemon xy"),  # non-breaking space is whitespace
        ("Ame\u0301lie", "amelie"),  # already decomposed input
        ("L'Été", "l'ete"),
        ("Spider-Man: No Way Home", "spider-man: no way home"),
    ],
)
def test_normalize_query(raw: str | None, expected: str) -> None:
    assert normalize_query(raw) == expected


def test_equivalent_searches_share_a_key() -> None:
    base = search_cache_key("scope", "Amélie", ["films", "series"], "123")
    assert search_cache_key("scope", "amelie ", ["series", "films"], "123") == base
    assert search_cache_key("scope", "AMELIE", ("films", "series", "films"), 123) == base
    assert search_cache_key("scope", " Amélie", {"series", "films"}, " 123 ") == base


@pytest.mark.parametrize(
    "other",
    [
        ("other-scope", "amelie", ["films", "series"], "123"),  # another key never shares
        ("scope", "amelie 2", ["films", "series"], "123"),
        ("scope", "amelie", ["films"], "123"),
        ("scope", "amelie", ["films", "series", "anime"], "123"),
        ("scope", "amelie", ["films", "series"], "1234"),
        ("scope", "amelie", ["films", "series"], None),
        ("scope", "amelie", None, "123"),
        ("scope", None, ["films", "series"], "123"),
    ],
)
def test_different_searches_get_different_keys(
    other: tuple[str, str | None, list[str] | None, str | None],
) -> None:
    assert search_cache_key(*other) != search_cache_key(
        "scope", "amelie", ["films", "series"], "123"
    )


def test_separators_inside_values_cannot_collide() -> None:
    assert search_cache_key("a|b", "c", [], None) != search_cache_key("a", "b|c", [], None)
    assert search_cache_key("s", "x", ["a,b"], None) != search_cache_key("s", "x", ["a", "b"], None)


def test_none_and_empty_query_are_the_same_search() -> None:
    assert search_cache_key("s", None, None, None) == search_cache_key("s", "  ", [], None)


def _reference(q: str) -> str:
    """The documented folding, spelled out: lowercase, NFD, marks stripped, spaces collapsed."""
    stripped = re.sub("[\u0300-\u036f]", "", unicodedata.normalize("NFD", q.lower()))
    return " ".join(stripped.split())


def test_latin1_fast_path_matches_the_documented_folding() -> None:
    # Every Latin-1 character alone, after an ASCII letter and before one, mixed with
    # characters outside Latin-1 that must send the query down the general path.
    latin1 = [chr(i) for i in range(256)]
    others = ["\u0301", "\u0130", "\u0153", "\u0151", "\u2003", "\u6771"]
    for c in latin1 + others:
        for text in (c, f"A{c}", f"{c}b", f"\u00c9{c} \u00e8", f"{c}\u00a0{c}"):
            assert normalize_query(text) == _reference(text), repr(text)


@pytest.mark.parametrize(
    "text", ["Amélie", "  One   Piece\t\n", "Straße", "İstanbul", "x" * 200, "FRENCH", "", "  "]
)
@pytest.mark.parametrize("allow_empty", [False, True])
def test_text_only_preparation_matches_the_general_one(text: str, allow_empty: bool) -> None:
    general, text_only = (SearchArgs("ab12", allow_empty=allow_empty) for _ in range(2))
    try:
        expected = general.prepare(text, (), None)
    except ValidationError as exc:
        with pytest.raises(ValidationError, match=re.escape(str(exc))):
            text_only.prepare_text(text)
        assert text_only.memo == {}
        return
    assert text_only.prepare_text(text) == expected
    assert expected[0] == search_cache_key("ab12", text, (), None)
    assert text_only.memo == general.memo


@pytest.mark.parametrize("text", ["x" * 201, "lone \ud800 surrogate"])
def test_text_only_preparation_refuses_what_the_general_one_refuses(text: str) -> None:
    args = SearchArgs("ab12", allow_empty=False)
    with pytest.raises(ValidationError) as general:
        args.prepare(text, (), None)
    with pytest.raises(ValidationError, match=re.escape(str(general.value))):
        args.prepare_text(text)
    assert args.memo == {}
