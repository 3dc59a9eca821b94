"""How the ``lacale`` command shows results: rich tables and trees for people, dicts for JSON."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from .._models import Category, Meta, Tag, Torrent
from .._stats import ClientStats

__all__ = [
    "human_size",
    "local_date",
    "meta_tree",
    "short_hash",
    "stats_line",
    "torrent_dict",
    "torrents_table",
]

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
_SHORT_HASH = 12


def human_size(size: int) -> str:
    """Return a byte count in binary units, such as ``4.2 GiB`` or ``700.0 MiB``.

    Args:
        size: Bytes (negative values are shown as 0 B).

    Returns:
        The size with one decimal (none for plain bytes).
    """
    value = float(max(size, 0))
    for unit in _UNITS:
        if value < 1024 or unit == _UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def local_date(moment: datetime) -> str:
    """Return an aware datetime in the machine's time zone, to the minute."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def short_hash(info_hash: str) -> str:
    """Return the first characters of an info hash, enough to tell rows apart."""
    return info_hash[:_SHORT_HASH]


def torrent_dict(torrent: Torrent) -> dict[str, Any]:
    """Return a search result as a JSON-ready dict with snake_case keys and an ISO date.

    Args:
        torrent: One search result.

    Returns:
        ``title, guid, size, pub_date, link, category, seeders, leechers, info_hash, magnet``.
    """
    return {
        "title": torrent.title,
        "guid": torrent.guid,
        "size": torrent.size,
        "pub_date": torrent.pub_date.isoformat(timespec="milliseconds"),
        "link": torrent.link,
        "category": torrent.category,
        "seeders": torrent.seeders,
        "leechers": torrent.leechers,
        "info_hash": torrent.info_hash,
        "magnet": torrent.magnet,
    }


def torrents_table(
    torrents: Sequence[Torrent], *, title: str | None = None, limit: int | None = None
) -> Table:
    """Build the table of search results.

    Args:
        torrents: The results, in the order the tracker gave them (newest first).
        title: Caption above the table (the query, in bulk mode).
        limit: Show at most this many rows and say how many were left out.

    Returns:
        A rich table; titles are plain text, never read as rich markup.
    """
    shown = torrents if limit is None else torrents[:limit]
    table = Table(title=Text(title) if title is not None else None, title_justify="left")
    table.add_column("Title", overflow="fold", ratio=1, min_width=20)
    table.add_column("Category", no_wrap=True)
    table.add_column("Size", justify="right", no_wrap=True)
    table.add_column("S", justify="right", header_style="green", no_wrap=True)
    table.add_column("L", justify="right", header_style="red", no_wrap=True)
    table.add_column("Date", no_wrap=True)
    table.add_column("Hash", style="dim", no_wrap=True)
    for t in shown:
        table.add_row(
            Text(t.title),
            Text(t.category),
            human_size(t.size),
            str(t.seeders),
            str(t.leechers),
            local_date(t.pub_date),
            short_hash(t.info_hash),
        )
    hidden = len(torrents) - len(shown)
    if not torrents:
        table.caption = "no results"
    elif hidden:
        table.caption = f"{hidden} more not shown"
    return table


def _category_node(parent: Tree, category: Category) -> None:
    label = Text(category.name, style="bold" if category.children else "")
    label.append(f"  {category.slug}", style="cyan")
    label.append(f"  {category.id}", style="dim")
    node = parent.add(label)
    for child in category.children:
        _category_node(node, child)


def _tag_label(tag: Tag) -> Text:
    label = Text(tag.name)
    label.append(f"  {tag.slug}", style="cyan")
    label.append(f"  {tag.id}", style="dim")
    return label


def meta_tree(meta: Meta) -> Tree:
    """Build the tree of categories, tag groups and ungrouped tags.

    Each line shows the name, then the slug (what ``--cat`` and ``--tag`` take), then the id;
    categories at every depth (the live tracker has three levels).

    Args:
        meta: The tracker's metadata.

    Returns:
        A rich tree with a "Categories" and a "Tags" branch.
    """
    root = Tree(Text("La Cale metadata  ") + Text("name  slug  id", style="dim"))
    categories = root.add(Text("Categories", style="bold magenta"))
    for category in meta.categories:
        _category_node(categories, category)
    tags = root.add(Text("Tags", style="bold magenta"))
    for group in meta.tag_groups:
        label = Text(group.name, style="bold")
        if group.slug:
            label.append(f"  {group.slug}", style="cyan")
        if not group.tags:
            # The live tracker lists the tags of few groups; their ids are still accepted.
            label.append("  (tags not listed)", style="dim")
        node = tags.add(label)
        for tag in group.tags:
            node.add(_tag_label(tag))
    if meta.ungrouped_tags:
        node = tags.add(Text("(ungrouped)", style="bold"))
        for tag in meta.ungrouped_tags:
            node.add(_tag_label(tag))
    return root


def stats_line(stats: ClientStats, *, merged: int = 0, elapsed: float | None = None) -> str:
    """Summarise a client's traffic on one line.

    Args:
        stats: The client's counters at the end of the run.
        merged: Input lines that were duplicates of another query and so sent nothing.
        elapsed: Wall-clock seconds of the run, shown when given.

    Returns:
        ``stats: requests sent N, cache hits N, ...``.
    """
    parts = [
        f"requests sent {stats.requests}",
        f"cache hits {stats.cache_hits}",
        f"coalesced {stats.coalesced}",
    ]
    if merged:
        parts.append(f"duplicates merged {merged}")
    parts += [
        f"retries {stats.retries}",
        f"429s received {stats.rate_limited}",
        # Summed over every call, so it exceeds the elapsed time when calls queue together.
        f"limiter wait {stats.limiter_wait:.1f} s (all calls)",
    ]
    if elapsed is not None:
        parts.append(f"elapsed {elapsed:.1f} s")
    return "stats: " + ", ".join(parts)
