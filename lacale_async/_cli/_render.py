"""How the ``lacale`` command shows results: rich tables and trees for people, dicts for JSON."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import msgspec
from rich import box
from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from .._errors import ResponseError, redact_url
from .._models import Category, Meta, Tag, Torrent
from .._stats import ClientStats
from ._sanitize import clean, masked, shown

__all__ = [
    "human_size",
    "local_date",
    "magnet_or_none",
    "meta_tree",
    "short_hash",
    "shown_link",
    "snake_builtins",
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


def local_date(moment: datetime, *, with_time: bool = True) -> str:
    """Return an aware datetime in the machine's time zone, to the minute (or the day)."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")


def short_hash(info_hash: str, secrets: tuple[str, ...] = ()) -> str:
    """Return the first characters of an info hash, enough to tell rows apart (shown())."""
    # From the network like any other field: a hostile one could hold escape sequences.
    # Masked whole, then cut: a cut first could leave a key start too short to be known.
    return shown(info_hash, secrets, cut_tail=False)[:_SHORT_HASH]


def magnet_or_none(torrent: Torrent, secrets: tuple[str, ...] = ()) -> str | None:
    """Return the torrent's magnet URI, or None when the tracker sent a malformed info hash.

    With ``secrets``, its ``dn`` is made from the masked title: the magnet URL-quotes the
    title once more, so a title holding the key quoted once would give a twice-quoted
    spelling that no mask knows.
    """
    title = masked(torrent.title, secrets, cut_tail=False)
    if title != torrent.title:
        torrent = msgspec.structs.replace(torrent, title=title)
    try:
        return torrent.magnet
    except ResponseError:
        return None


def shown_link(url: str, secrets: tuple[str, ...]) -> str:
    """Return a link from the server as it may be printed: credentials and secrets masked.

    The v2 docs make a result's ``link`` the download URL, and a server may put the key in
    it, as a query parameter or in its path (an RSS-style ``/rss/<key>/`` link). The key is
    masked first, as ``Secret.redact`` does: redacting ``apikey=`` first would stop at an
    ``&`` inside the key and leave the rest of it.
    """
    return redact_url(masked(url, secrets, cut_tail=False))


def torrent_dict(torrent: Torrent, secrets: tuple[str, ...] = ()) -> dict[str, Any]:
    """Return a search result as a JSON-ready dict with snake_case keys and an ISO date.

    The other fields are kept exact: ``json_text`` masks the secrets in every string it
    writes.

    Args:
        torrent: One search result.
        secrets: Values never to print (the key), masked in its link (credentials too) and
            in the title its magnet is made from.

    Returns:
        ``title, guid, size, pub_date, link, category, seeders, leechers, info_hash, magnet``.
    """
    return {
        "title": torrent.title,
        "guid": torrent.guid,
        "size": torrent.size,
        "pub_date": torrent.pub_date.isoformat(timespec="milliseconds"),
        "link": shown_link(torrent.link, secrets),
        "category": torrent.category,
        "seeders": torrent.seeders,
        "leechers": torrent.leechers,
        "info_hash": torrent.info_hash,
        # One malformed result must not cost the others: its magnet is null.
        "magnet": magnet_or_none(torrent, secrets),
    }


_TITLE_MIN = 24
# A column costs its content plus 3 characters: a space each side and the separator.
_GAP = 3


@dataclass(frozen=True)
class _Column:
    header: str
    cell: Callable[[Torrent], str]  # raw: _cell() cleans it and masks the secrets once
    justify: Literal["left", "right"] = "left"
    style: str = ""
    max_width: int | None = None  # longer cells end with an ellipsis


_COLUMNS: dict[str, _Column] = {
    "category": _Column("Category", lambda t: t.category, max_width=12),
    "size": _Column("Size", lambda t: human_size(t.size), "right"),
    "seeders": _Column("S", lambda t: str(t.seeders), "right", "green"),
    "leechers": _Column("L", lambda t: str(t.leechers), "right", "red"),
    "date": _Column("Date", lambda t: local_date(t.pub_date)),
    "day": _Column("Date", lambda t: local_date(t.pub_date, with_time=False)),
    "hash": _Column("Hash", lambda t: t.info_hash, style="dim"),  # short_hash() in _cells
}
# What a narrower console gives up first: the time of day, leechers, the category, the date,
# seeders, the size. The title wraps before any of these goes; the hash is never cut.
_LAYOUTS: tuple[tuple[str, ...], ...] = (
    ("category", "size", "seeders", "leechers", "date", "hash"),
    ("category", "size", "seeders", "leechers", "day", "hash"),
    ("category", "size", "seeders", "day", "hash"),
    ("size", "seeders", "day", "hash"),
    ("size", "seeders", "hash"),
    ("size", "hash"),
    ("hash",),
)


def _cells(torrent: Torrent, secrets: tuple[str, ...]) -> dict[str, str]:
    """Every cell of a row, cleaned and masked once (as data), whatever layout is chosen."""
    cells = {name: shown(c.cell(torrent), secrets, cut_tail=False) for name, c in _COLUMNS.items()}
    cells["title"] = shown(torrent.title, secrets, cut_tail=False)
    cells["hash"] = short_hash(torrent.info_hash, secrets)
    return cells


def _layout(rows: Sequence[dict[str, str]], width: int) -> tuple[str, ...]:
    widest = {
        name: max([len(column.header), *(len(row[name]) for row in rows)])
        for name, column in _COLUMNS.items()
    }
    for layout in _LAYOUTS:
        needed = _TITLE_MIN
        for name in layout:
            cap = _COLUMNS[name].max_width or widest[name]
            needed += _GAP + min(widest[name], cap)
        if needed <= width:
            return layout
    return _LAYOUTS[-1]


class TorrentsTable:
    """The table of search results, laid out for the width it is printed at.

    At 80 columns the title wraps and the least useful columns go (see ``_LAYOUTS``) so that
    the hash prefix :func:`download <short_hash>` takes is always whole. Every cell is cleaned
    of control characters (titles are chosen by uploaders) and has the secrets masked (a
    server may echo the key).

    Args:
        torrents: The results, in the order the tracker gave them (newest first).
        title: Caption above the table (the query, in bulk mode).
        limit: Show at most this many rows and say how many were left out.
        secrets: Values never to print (the API key).
    """

    def __init__(
        self,
        torrents: Sequence[Torrent],
        *,
        title: str | None = None,
        limit: int | None = None,
        secrets: tuple[str, ...] = (),
    ) -> None:
        self.torrents = torrents
        self.title = title
        self.shown = torrents if limit is None else torrents[:limit]
        self.secrets = secrets

    def table(self, width: int) -> Table:
        """Return the rich table for a console ``width`` columns wide."""
        rows = [_cells(t, self.secrets) for t in self.shown]
        layout = _layout(rows, width)
        table = Table(
            # The caption is the user's own query (bulk): not network text, not masked.
            title=Text(clean(self.title)) if self.title is not None else None,
            title_justify="left",
            box=box.SIMPLE_HEAD,
            show_edge=False,
            pad_edge=False,
        )
        table.add_column("Title", overflow="fold", ratio=1, min_width=_TITLE_MIN)
        for name in layout:
            column = _COLUMNS[name]
            table.add_column(
                column.header,
                justify=column.justify,
                header_style=column.style,
                style="dim" if name == "hash" else "",
                no_wrap=True,
                overflow="ellipsis",
                max_width=column.max_width,
                min_width=len(short_hash("0" * 40)) if name == "hash" else None,
            )
        for row in rows:
            table.add_row(Text(row["title"]), *(Text(row[n]) for n in layout))
        hidden = len(self.torrents) - len(self.shown)
        if not self.torrents:
            table.caption = "no results"
        elif hidden:
            table.caption = f"{hidden} more not shown"
        return table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.table(options.max_width)


def torrents_table(
    torrents: Sequence[Torrent],
    *,
    title: str | None = None,
    limit: int | None = None,
    secrets: tuple[str, ...] = (),
) -> TorrentsTable:
    """Build the table of search results (see :class:`TorrentsTable`)."""
    return TorrentsTable(torrents, title=title, limit=limit, secrets=secrets)


def snake_builtins(value: object) -> Any:
    """Return a struct as JSON-ready builtins keyed by its Python field names (snake_case).

    msgspec's own ``to_builtins`` uses the wire names (``parentId``); the CLI's JSON follows
    the SDK's structs, as ``search --json`` does.
    """
    if isinstance(value, msgspec.Struct):
        return {f: snake_builtins(getattr(value, f)) for f in value.__struct_fields__}
    if isinstance(value, (list, tuple)):
        return [snake_builtins(v) for v in value]
    return msgspec.to_builtins(value)


def _label(text: str, secrets: tuple[str, ...]) -> str:
    return shown(text, secrets, cut_tail=False)  # a name or slug: data, not a message


def _category_node(parent: Tree, category: Category, secrets: tuple[str, ...]) -> None:
    label = Text(_label(category.name, secrets), style="bold" if category.children else "")
    label.append(f"  {_label(category.slug, secrets)}", style="cyan")
    label.append(f"  {_label(category.id, secrets)}", style="dim")
    node = parent.add(label)
    for child in category.children:
        _category_node(node, child, secrets)


def _tag_label(tag: Tag, secrets: tuple[str, ...]) -> Text:
    label = Text(_label(tag.name, secrets))
    label.append(f"  {_label(tag.slug, secrets)}", style="cyan")
    label.append(f"  {_label(tag.id, secrets)}", style="dim")
    return label


def meta_tree(meta: Meta, secrets: tuple[str, ...] = ()) -> Tree:
    """Build the tree of categories, tag groups and ungrouped tags.

    Each line shows the name, then the slug (what ``--cat`` and ``--tag`` take), then the id;
    categories at every depth (the live tracker has three levels).

    Args:
        meta: The tracker's metadata.
        secrets: Values never to print (the API key), masked in every label.

    Returns:
        A rich tree with a "Categories" and a "Tags" branch.
    """
    root = Tree(Text("La Cale metadata  ") + Text("name  slug  id", style="dim"))
    categories = root.add(Text("Categories", style="bold magenta"))
    for category in meta.categories:
        _category_node(categories, category, secrets)
    tags = root.add(Text("Tags", style="bold magenta"))
    for group in meta.tag_groups:
        label = Text(_label(group.name, secrets), style="bold")
        if group.slug:
            label.append(f"  {_label(group.slug, secrets)}", style="cyan")
        if not group.tags:
            # The live tracker lists the tags of few groups; their ids are still accepted.
            label.append("  (tags not listed)", style="dim")
        node = tags.add(label)
        for tag in group.tags:
            node.add(_tag_label(tag, secrets))
    if meta.ungrouped_tags:
        node = tags.add(Text("(ungrouped)", style="bold"))
        for tag in meta.ungrouped_tags:
            node.add(_tag_label(tag, secrets))
    return root


def stats_line(
    stats: ClientStats,
    *,
    merged: int = 0,
    elapsed: float | None = None,
    waited: float | None = None,
) -> str:
    """Summarise a client's traffic on one line.

    Args:
        stats: The client's counters at the end of the run.
        merged: Input lines that were duplicates of another query and so sent nothing.
        elapsed: Wall-clock seconds of the run, shown when given.
        waited: Wall-clock seconds during which at least one call waited on a limiter.

    Returns:
        ``stats: requests sent N, cache hits N, ...``; the limiter wait is wall-clock time,
        and the sum over calls (which exceeds it when calls queue together) says it is a sum.
    """
    parts = [
        f"requests sent {stats.requests}",
        f"cache hits {stats.cache_hits}",
        f"coalesced {stats.coalesced}",
    ]
    if merged:
        parts.append(f"duplicates merged {merged}")
    parts += [f"retries {stats.retries}", f"429s received {stats.rate_limited}"]
    summed = f"{stats.limiter_wait:.1f} s summed over calls"
    if waited is not None:
        parts.append(f"waited for the rate limit {waited:.1f} s ({summed})")
    else:
        parts.append(f"limiter wait {summed}")
    if elapsed is not None:
        parts.append(f"elapsed {elapsed:.1f} s")
    return "stats: " + ", ".join(parts)
