"""Shell completion of category and tag slugs, from the meta answer kept in the cache.

Completion runs on every Tab press: it must be instant and never touch the network. It reads
the meta answer that ``lacale meta`` (or an upload) last saved; with none saved, it offers
nothing, and ``lacale meta`` once fills it.

The cached names are server text: the key (``--api-key`` typed so far, or ``LACALE_API_KEY``)
is masked in them as in any output. With no key known there is nothing to mask with, and the
cached text is shown cleaned only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import click
from click.shell_completion import CompletionItem

from ._options import settings
from ._sanitize import shown
from ._userdata import load_meta

__all__ = ["cat_option", "complete_category", "complete_tag"]

F = TypeVar("F", bound=Callable[..., Any])


def _matching(
    ctx: click.Context, pairs: Iterable[tuple[str, str]], incomplete: str
) -> list[CompletionItem]:
    secrets = settings(ctx).secrets
    return [
        CompletionItem(
            shown(slug, secrets, cut_tail=False), help=shown(name, secrets, cut_tail=False)
        )
        for slug, name in pairs
        if slug.startswith(incomplete)
    ]


def complete_category(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Return the category slugs starting with ``incomplete``, with their names as help."""
    meta = load_meta()
    if meta is None:
        return []
    return _matching(ctx, ((c.slug, c.name) for c in meta.iter_categories()), incomplete)


def complete_tag(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Return the tag slugs starting with ``incomplete``, with their names as help."""
    meta = load_meta()
    if meta is None:
        return []
    return _matching(ctx, ((t.slug, t.name) for t in meta.iter_tags()), incomplete)


def cat_option(help: str) -> Callable[[F], F]:
    """Return the ``--cat SLUG`` option (repeatable, completed from the cached meta)."""
    return click.option(
        "--cat",
        "categories",
        multiple=True,
        metavar="SLUG",
        shell_complete=complete_category,
        help=help,
    )
