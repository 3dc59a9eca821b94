"""``lacale search`` and ``lacale meta``: read the tracker."""

from __future__ import annotations

import click

from ._app import command
from ._completion import cat_option
from ._render import meta_tree, snake_builtins, torrent_dict, torrents_table
from ._run import connect, echo_json, run_command, stdout_console
from ._session import Settings
from ._userdata import save_hashes, save_meta

__all__ = ["meta", "search"]


@command()
@click.argument("words", nargs=-1, metavar="[QUERY]...")
@cat_option("Category (repeatable).")
@click.option("--tmdb", "tmdb_id", metavar="ID", help="Exact TMDB id.")
def search(
    settings: Settings, words: tuple[str, ...], categories: tuple[str, ...], tmdb_id: str | None
) -> None:
    """Search by QUERY and/or --tmdb (the tracker needs one; "FRENCH" lists recent releases).

    The words of QUERY need no quotes: 'lacale search breaking bad'. The table's Hash column
    is what 'lacale download' takes.
    """
    query = " ".join(words) or None

    async def go() -> int:
        async with connect(settings) as client:
            results = await client.search(query, categories=categories, tmdb_id=tmdb_id)
        save_hashes([t.info_hash for t in results])
        if settings.json:
            echo_json(
                [torrent_dict(t, settings.secrets) for t in results], secrets=settings.secrets
            )
        else:
            stdout_console().print(torrents_table(results, secrets=settings.secrets))
        return 0

    run_command(settings, go)


@command()
def meta(settings: Settings) -> None:
    """Show categories and tags (the slugs that --cat, --category and --tag take)."""

    async def go() -> int:
        async with connect(settings) as client:
            data = await client.meta()
        # Kept for shell completion of slugs, which never asks the network.
        save_meta(data)
        if settings.json:
            echo_json(snake_builtins(data), secrets=settings.secrets)
        else:
            stdout_console().print(meta_tree(data, settings.secrets))
        return 0

    run_command(settings, go)
