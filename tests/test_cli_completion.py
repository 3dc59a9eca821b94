"""Shell completion of slugs (``_cli._completion``), from the cached meta only, called directly."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import click
import pytest
from conftest import META_JSON

from lacale_async import Meta
from lacale_async._cli._completion import cat_option, complete_category, complete_tag
from lacale_async._cli._userdata import save_meta
from lacale_async._models import decode_meta

_CTX = click.Context(click.Command("lacale"))
_PARAM = click.Option(["--cat"])


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("LACALE_CACHE_DIR", str(folder))
    return folder


def _meta(payload: Mapping[str, object]) -> Meta:
    """The meta answer as the client decodes it from the tracker's JSON."""
    return decode_meta(json.dumps(payload).encode())


def test_with_no_meta_kept_nothing_is_offered() -> None:
    assert complete_category(_CTX, _PARAM, "") == []
    assert complete_tag(_CTX, _PARAM, "") == []


def test_category_slugs_of_every_level_are_offered_by_prefix_with_their_names() -> None:
    save_meta(_meta(META_JSON))
    every = complete_category(_CTX, _PARAM, "")
    assert [(i.value, i.help) for i in every] == [
        ("video", "Vidéo"),
        ("films", "Films"),
        ("series", "Séries TV"),
    ]
    assert [i.value for i in complete_category(_CTX, _PARAM, "s")] == ["series"]
    assert complete_category(_CTX, _PARAM, "x") == []


def test_tag_slugs_grouped_or_not_are_offered_by_prefix() -> None:
    save_meta(_meta(META_JSON))
    assert sorted(i.value for i in complete_tag(_CTX, _PARAM, "")) == ["1080p", "vostfr"]
    assert [(i.value, i.help) for i in complete_tag(_CTX, _PARAM, "vo")] == [("vostfr", "VOSTFR")]


def test_a_prefix_is_matched_case_sensitively_as_slugs_are_written() -> None:
    save_meta(_meta(META_JSON))
    assert complete_tag(_CTX, _PARAM, "VO") == []


def test_names_and_slugs_from_the_tracker_are_offered_without_escape_sequences() -> None:
    evil = {
        "categories": [{"id": "c1", "name": "Fi\x1b]0;pwned\x07lms", "slug": "fi\x1b[2Jlms"}],
        "tagGroups": [],
        "ungroupedTags": [],
    }
    save_meta(_meta(evil))
    [item] = complete_category(_CTX, _PARAM, "fi")
    assert (item.value, item.help) == ("films", "Films")


def test_an_unreadable_cache_offers_nothing(cache: Path) -> None:
    save_meta(_meta(META_JSON))
    [kept] = [p for p in cache.rglob("*") if p.is_file()]
    kept.write_bytes(b"{not json")
    assert complete_category(_CTX, _PARAM, "") == []


def test_the_cat_option_is_repeatable_and_completed_from_the_cached_meta() -> None:
    save_meta(_meta(META_JSON))

    @click.command()
    @cat_option("Category slug.")
    def search(categories: tuple[str, ...]) -> None:
        click.echo(",".join(categories))

    [option] = search.params
    assert isinstance(option, click.Option)
    assert (option.name, option.multiple, option.metavar, option.help) == (
        "categories",
        True,
        "SLUG",
        "Category slug.",
    )
    ctx = click.Context(search)
    assert [i.value for i in option.shell_complete(ctx, "fi")] == ["films"]


def test_the_key_from_the_environment_is_masked_in_cached_names() -> None:
    from click.testing import CliRunner

    from lacale_async._cli._commands import cli

    key = "lcsb_Odd+Key/With=Chars&0f9e8d7c"
    payload = json.loads(json.dumps(META_JSON))
    payload["categories"][0]["name"] = f"Vidéo {key}"
    save_meta(_meta(payload))
    env = {
        "_LACALE_COMPLETE": "zsh_complete",
        "COMP_WORDS": "lacale search --cat ",
        "COMP_CWORD": "3",
    }
    with_key = CliRunner(env={**env, "LACALE_API_KEY": key}).invoke(cli, [], prog_name="lacale")
    assert with_key.exit_code == 0, with_key.output
    assert "Vidéo ***" in with_key.stdout
    assert "0f9e8d7c" not in with_key.stdout
    # No key known: nothing to mask with, the cached name is shown cleaned only.
    no_key = CliRunner(env={**env, "LACALE_API_KEY": None}).invoke(cli, [], prog_name="lacale")
    assert f"Vidéo {key}" in no_key.stdout
