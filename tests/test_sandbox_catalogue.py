"""The sandbox catalogue: deterministic, complete, with genuine torrents (no network)."""

from __future__ import annotations

import hashlib
import re
import time
import unicodedata
from collections import Counter

import bencode2
import pytest

from lacale_async import ValidationError
from lacale_async.testing import Catalogue, normalise
from lacale_async.testing._ids import slugify
from lacale_async.testing._search import MAX_RESULTS, run_search

# The v1 doc's "Available Categories", by parent.
DOCUMENTED = {
    "video": {"films", "series", "spectacles"},
    "audio": {"music", "audio-divers"},
    "jeux": {"pc", "consoles", "jeux-mobiles"},
    "applications": {"systemes", "software"},
    "ebooks": {"romans", "bd", "documentaires", "livres", "presse", "education"},
    "xxx": {"h-t-ro", "gay", "lesbien", "trans"},
    "autre": {"divers"},
}
CUID = re.compile(r"c[0-9a-z]{24}")
PUB_DATE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue.generate(seed=0, size=300, profile="docs")


def _fingerprint(catalogue: Catalogue) -> list[tuple[str, str, str, str, int]]:
    return [(t.guid, t.title, t.info_hash, t.pub_date, t.size) for t in catalogue]


def test_same_seed_gives_the_same_catalogue(catalogue: Catalogue) -> None:
    again = Catalogue.generate(seed=0, size=300, profile="docs")
    assert _fingerprint(again) == _fingerprint(catalogue)
    assert [t.data for t in again] == [t.data for t in catalogue]


def test_another_seed_gives_another_catalogue(catalogue: Catalogue) -> None:
    other = Catalogue.generate(seed=1, size=300, profile="docs")
    assert {t.info_hash for t in other}.isdisjoint({t.info_hash for t in catalogue})
    # Categories and tags do not depend on the seed: uploads can hard-code their ids.
    assert [c.id for c in other.taxonomy.categories()] == [
        c.id for c in catalogue.taxonomy.categories()
    ]


def test_size_is_respected_and_generation_is_fast() -> None:
    start = time.perf_counter()
    big = Catalogue.generate(seed=7, size=300)
    assert time.perf_counter() - start < 0.5
    assert len(big) == 300
    assert len(Catalogue.generate(seed=7, size=5)) == 5


def test_a_minimal_catalogue_still_covers_every_category() -> None:
    small = Catalogue.generate(seed=3, size=21, profile="docs")
    assert {t.category.slug for t in small if t.approved} == set().union(*DOCUMENTED.values())


def test_taxonomy_matches_the_documented_slugs(catalogue: Catalogue) -> None:
    taxonomy = catalogue.taxonomy
    found = {p.slug: {c.slug for c in taxonomy.children[p.id]} for p in taxonomy.parents}
    assert found == DOCUMENTED
    for parent in taxonomy.parents:
        assert parent.parent_id is None
        assert parent.icon
        for child in taxonomy.children[parent.id]:
            assert child.parent_id == parent.id
    ids = [c.id for c in taxonomy.categories()]
    assert len(set(ids)) == len(ids)
    assert all(CUID.fullmatch(i) for i in ids)


def test_every_documented_category_has_approved_torrents(catalogue: Catalogue) -> None:
    per_slug = Counter(t.category.slug for t in catalogue if t.approved)
    leaves = set().union(*DOCUMENTED.values())
    assert leaves <= set(per_slug)
    # Realistic weights: video dominates, yet every leaf is present.
    assert per_slug["series"] + per_slug["films"] > 60


def test_tag_groups_are_ordered_and_include_the_usual_ones(catalogue: Catalogue) -> None:
    groups = catalogue.taxonomy.tag_groups
    assert [g.order for g in groups] == sorted(g.order for g in groups)
    names = {g.name for g in groups}
    assert {"Qualité vidéo", "Genres", "Langues"} <= names
    assert catalogue.taxonomy.ungrouped_tags
    assert any(not g.tags for g in groups), "an empty group is needed for the null quirk"
    all_ids = [t.id for g in groups for t in g.tags] + [
        t.id for t in catalogue.taxonomy.ungrouped_tags
    ]
    assert len(set(all_ids)) == len(all_ids)


def test_torrents_are_genuine_private_lacale_torrents(catalogue: Catalogue) -> None:
    for torrent in catalogue:
        top = bencode2.bdecode(torrent.data)
        info = top[b"info"]
        assert hashlib.sha1(bencode2.bencode(info)).hexdigest() == torrent.info_hash
        assert info[b"private"] == 1
        assert info[b"source"] == b"lacale"
        assert len(info[b"pieces"]) % 20 == 0
        assert info[b"pieces"]
        if b"length" in info:
            assert info[b"length"] == torrent.size
        else:
            assert sum(f[b"length"] for f in info[b"files"]) == torrent.size
        # Canonical bencode: re-encoding gives the served bytes back.
        assert bencode2.bencode(top) == torrent.data


def test_fields_look_like_the_api(catalogue: Catalogue) -> None:
    for torrent in catalogue:
        assert PUB_DATE.fullmatch(torrent.pub_date)
        assert CUID.fullmatch(torrent.guid)
        assert re.fullmatch(r"[0-9a-f]{40}", torrent.info_hash)
        assert torrent.size > 0
        assert torrent.seeders >= 0
        assert torrent.leechers >= 0
        assert torrent.slug.startswith(slugify(torrent.title)[:20])
    assert len({t.guid for t in catalogue}) == len(catalogue)


def test_titles_are_realistic(catalogue: Catalogue) -> None:
    titles = [t.title for t in catalogue]
    accented = [t for t in titles if unicodedata.normalize("NFKD", t) != t]
    assert len(accented) > 30
    assert any(re.search(r"\.S\d{2}E\d{2}\.", t) for t in titles), "scene-style episodes"
    assert any(re.search(r"\w+\.\w+\.\d{4}\.", t) for t in titles), "dotted release names"
    assert any("Épisode" in t for t in titles)


def test_films_and_series_carry_tmdb_ids(catalogue: Catalogue) -> None:
    for torrent in catalogue:
        if torrent.category.slug in ("films", "series"):
            assert torrent.tmdb_id is not None
            assert torrent.tmdb_id.isdigit()
            assert torrent.tmdb_type == ("MOVIE" if torrent.category.slug == "films" else "TV")
        else:
            assert torrent.tmdb_id is None


def test_some_torrents_await_moderation(catalogue: Catalogue) -> None:
    pending = [t for t in catalogue if not t.approved]
    assert 5 <= len(pending) <= 30


def test_unknown_hash_lookup_and_duplicate_add(catalogue: Catalogue) -> None:
    first = next(iter(catalogue))
    assert catalogue.get(first.info_hash.upper()) is first
    assert catalogue.get("0" * 40) is None
    with pytest.raises(ValidationError, match="already"):
        catalogue.add(first)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Amélie", "amelie"),
        ("  AMELIE ", "amelie"),
        ("Le.Dîner_de-cons", "le diner de cons"),
        ("Cœur  ÉPISODE", "coeur episode"),
        ("", ""),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


def test_slugify() -> None:
    assert slugify("Séries TV") == "series-tv"
    assert slugify("L'Étranger !") == "l-etranger"
    assert slugify("???") == "torrent"


def test_run_search_filters_sorts_and_cuts(catalogue: Catalogue) -> None:
    everything = run_search(catalogue, query="", category_ids=None, tmdb_id=None)
    assert len(everything) == MAX_RESULTS
    assert all(t.approved for t in everything)
    stamps = [t.published_ms for t in everything]
    assert stamps == sorted(stamps, reverse=True)
    newest_approved = max(t.published_ms for t in catalogue if t.approved)
    assert stamps[0] == newest_approved


def test_albums_in_a_format_category_are_of_that_format() -> None:
    # The live tree files albums under Musique > FLAC / M4A / MP3: an MP3 album under FLAC
    # would teach a bot's tests a tracker that does not exist.
    live = Catalogue.generate(seed=0, size=2_000, profile="live")
    named = {"flac": "[FLAC", "m4a": "[ALAC M4A]", "mp3": "[MP3"}
    seen = Counter(t.category.slug for t in live if t.category.slug in named)
    assert set(seen) == set(named), seen
    for torrent in live:
        mark = named.get(torrent.category.slug)
        if mark is not None:
            assert mark in torrent.title, (torrent.category.slug, torrent.title)
