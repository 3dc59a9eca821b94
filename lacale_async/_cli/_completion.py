"""Shell completion of category and tag slugs, from the meta answer kept in the cache.

Completion runs on every Tab press: it must be instant and never touch the network. It reads
the meta answer that ``lacale meta`` (or an upload) last saved; with none saved, it offers
nothing, and ``lacale meta`` once fills it.
"""

from __future__ import annotations

import click
from click.shell_completion import CompletionItem

from ._sanitize import clean
from ._userdata import load_meta

__all__ = ["complete_category", "complete_tag"]


def complete_category(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Return the category slugs starting with ``incomplete``, with their names as help."""
    meta = load_meta()
    if meta is None:
        return []
    return [
        CompletionItem(clean(c.slug), help=clean(c.name))
        for c in meta.iter_categories()
        if c.slug.startswith(incomplete)
    ]


def complete_tag(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Return the tag slugs starting with ``incomplete``, with their names as help."""
    meta = load_meta()
    if meta is None:
        return []
    return [
        CompletionItem(clean(t.slug), help=clean(t.name))
        for t in meta.iter_tags()
        if t.slug.startswith(incomplete)
    ]
