"""Info-hash prefixes of ``lacale download`` (``_cli._hashes``), tested directly."""

from __future__ import annotations

from pathlib import Path

import pytest

from lacale_async import ValidationError
from lacale_async._cli._hashes import MIN_PREFIX, resolve_hash
from lacale_async._cli._userdata import save_hashes

V1 = "abcdef0123" + "0" * 30
V2 = "abcdef0199" + "1" * 54
OTHER = "1234567890" + "2" * 30


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # known=None reads the last search from the cache: each test starts with none remembered.
    monkeypatch.setenv("LACALE_CACHE_DIR", str(tmp_path / "cache"))


@pytest.mark.parametrize("whole", ["A" * 40, "b" * 64, f"  {V1.upper()}  "])
def test_a_whole_hash_comes_back_as_written_without_a_lookup(whole: str) -> None:
    # Nothing remembered and nothing known: a lookup would raise "no search remembered".
    assert resolve_hash(whole) == whole
    assert resolve_hash(whole, []) == whole


@pytest.mark.parametrize("text", ["", "   ", "not-hex!", "abcdefgh", "abcd 1234", "f" * 65])
def test_text_that_is_not_a_hex_prefix_is_left_to_the_sdks_check(text: str) -> None:
    assert resolve_hash(text, []) == text


def test_the_shortest_prefix_accepted_is_eight_characters() -> None:
    assert MIN_PREFIX == 8
    assert resolve_hash(V1[:MIN_PREFIX] + "2", [V1, V2, OTHER]) == V1
    assert resolve_hash(OTHER[:MIN_PREFIX], [V1, OTHER]) == OTHER
    with pytest.raises(ValidationError) as refused:
        resolve_hash("AbCd123", [V1])
    assert str(refused.value) == (
        "info hash 'AbCd123' is too short: give all 40 characters, or at least 8 of the first "
        "ones of a hash shown by 'lacale search'"
    )


def test_a_too_short_prefix_is_refused_before_looking_for_a_search() -> None:
    with pytest.raises(ValidationError, match="too short"):
        resolve_hash("abc")


def test_a_prefix_in_any_case_and_spacing_gives_the_lowercase_hash() -> None:
    assert resolve_hash("  ABCDEF0123  ", [V1.upper(), OTHER]) == V1


def test_a_prefix_longer_than_a_v1_hash_finds_a_v2_hash() -> None:
    assert resolve_hash(V2[:41], [V1, V2]) == V2
    assert resolve_hash(V2[:63], [V2]) == V2


def test_the_same_hash_listed_twice_is_not_ambiguous() -> None:
    assert resolve_hash("abcdef01", [V1, V1.upper(), OTHER]) == V1


def test_without_a_remembered_search_a_prefix_says_to_search_first() -> None:
    with pytest.raises(ValidationError) as refused:
        resolve_hash("ABCDEF01")
    assert str(refused.value) == (
        "no search remembered to look up 'abcdef01' in: run 'lacale search' first, or give "
        "the whole 40-character info hash"
    )


def test_the_last_search_remembered_is_where_a_prefix_is_looked_up() -> None:
    save_hashes([OTHER, V1])
    assert resolve_hash("abcdef01") == V1
    assert resolve_hash("12345678") == OTHER


def test_a_prefix_of_no_result_says_how_to_get_the_whole_hash() -> None:
    with pytest.raises(ValidationError) as refused:
        resolve_hash("ffffffff00", [V1, OTHER])
    assert str(refused.value) == (
        "no result of the last search starts with 'ffffffff00': give the whole 40-character "
        "info hash ('lacale search --json' shows it), or run the search again"
    )


def test_an_ambiguous_prefix_lists_three_candidates_at_most() -> None:
    many = [f"abcdef01{i}" + "0" * 31 for i in range(5)]
    shown = ", ".join(h[:16] + "…" for h in many[:3])
    with pytest.raises(ValidationError) as four:
        resolve_hash("abcdef01", many[:4])
    assert str(four.value) == (
        f"'abcdef01' starts 4 results of the last search ({shown}, …): give more characters"
    )
    with pytest.raises(ValidationError) as three:
        resolve_hash("ABCDEF01", many[:3])
    assert str(three.value) == (
        f"'abcdef01' starts 3 results of the last search ({shown}): give more characters"
    )
