"""What a watch polls and how often: its queries and options checked, its interval planned.

The interval rule: the watch spends at most ``budget_share`` of the key's longest window (the
daily budget, 200 per 24 h by default). Each query is polled at most once per interval (the
next poll is planned from the end of the previous one), so in any window of the long period a
query is polled at most ``period / interval`` times. The interval is therefore
``period / floor(share * calls / n)``, which keeps ``n`` queries within ``share * calls``
exactly (10 queries, 200 a day, share 0.5: each every 2.4 h). Whatever the budget allows, no
query is polled faster than the search cache lives (``cache_ttl``, the tracker's own ~30 s):
the tracker would answer from its cache anyway.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import msgspec

from ._bulk import SearchQuery, as_queries
from ._errors import ConfigurationError, ValidationError
from ._files import check_path, expand_home
from ._models import Torrent
from ._normalize import search_cache_key
from ._options import YEAR, check_bool, check_duration, check_number, describe
from ._quota import describe_wait, describe_window
from ._validation import check_categories, check_query, check_tmdb_id
from ._wording import PYTHON, Names, Worded

__all__ = [
    "JITTER_SHARE",
    "SERVER_CACHE_TTL",
    "WatchPlan",
    "WatchQuery",
    "WatchSettings",
    "budget_interval",
    "check_watch",
    "plan_interval",
    "retry_delay",
]

SERVER_CACHE_TTL = 30.0
"""The tracker's own cache of search answers (about 30 s): the interval floor of a client built
with ``cache_ttl=0``, which does not cache but still talks to a server that does."""

JITTER_SHARE = 0.1
"""Each poll waits up to this share of the gap between two polls on top of its interval."""

# A backoff never grows past this (or past the interval, when that is longer).
_MAX_BACKOFF = 3600.0
# The tracker's longest window is a day: a longer Retry-After (a broken or hostile server's
# 10**9 s) would stop the query for good, silently; past a day, it is asked again.
_MAX_RETRY_AFTER = 86_400.0

RefuseEmpty = Callable[[str | None, str | None], None]


class WatchQuery(msgspec.Struct, frozen=True):
    """One distinct query of a watch.

    Attributes:
        query: The query as first given (categories as a tuple).
        key: What the state is keyed by: the origin and the query as the search cache
            normalises it (case, accents, spaces; categories as a set; the TMDB id). Never
            the key, so rotating it keeps the state.
    """

    query: SearchQuery
    key: str


class WatchSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a watch needs, checked (see :func:`check_watch`)."""

    queries: tuple[WatchQuery, ...]
    interval: float | None
    floor: float
    share: float
    include_existing: bool
    match: Callable[[Torrent], bool] | None
    state: Path | None
    rng: random.Random


class WatchPlan(msgspec.Struct, frozen=True, kw_only=True):
    """The interval chosen for a watch, and why.

    Attributes:
        interval: Seconds between two polls of one query (at least).
        count: Distinct queries.
        window: The key's longest window ``(calls, period)``, or None without a key budget.
        share: The share of that window the watch may spend.
        given: Whether the interval was given rather than chosen.
    """

    interval: float
    count: int
    window: tuple[int, float] | None
    share: float
    given: bool

    @property
    def gap(self) -> float:
        """Seconds between two polls of the watch, its queries spread over the interval."""
        return self.interval / self.count

    @property
    def wording(self) -> Worded:
        """The INFO line as a :class:`Worded`, for a front end naming the settings its own way."""
        return Worded(_describe, self)

    def describe(self, names: Names = PYTHON) -> str:
        """Return the plan for people, as the INFO line says it.

        Args:
            names: How the settings are named: ``budget_share=0.5`` for Python, a front
                end's own option (``--budget-share 0.5``) for it.
        """
        what = f"{self.count} quer{'y' if self.count == 1 else 'ies'}"
        line = f"watching {what}, each every {describe_wait(self.interval)}"
        if self.window is None:
            return line + f" (the key has no budget: {names.assign('key_rate', None)})"
        calls, period = self.window
        spent = min(self.count * period / self.interval, calls)
        why = "as given" if self.given else names.assign("budget_share", self.share)
        return (
            f"{line} ({why}): about {spent:.0f} searches of the key's "
            f"{describe_window(calls, period)}"
        )


def _describe(names: Names, plan: WatchPlan) -> str:
    return plan.describe(names)


def _too_small(share: float, count: int) -> ConfigurationError:
    """The error for a share that leaves each query less than one search a year."""
    reason = (
        f"a budget share of {share:g} leaves {count} quer{'y' if count == 1 else 'ies'} "
        "less than one search a year each"
    )
    # Worded: no interval helps here, and a front end's table hint for budget_share names one.
    return ConfigurationError(
        reason,
        option="budget_share",
        hint="raise budget_share or watch fewer queries",
        wording=Worded(_too_small_text, reason),
    )


def _too_small_text(names: Names, reason: str) -> str:
    return f"{reason}; raise {names.name('budget_share')} or watch fewer queries"


def _as_items(queries: object) -> list[SearchQuery]:
    if isinstance(queries, (str, SearchQuery)):
        return as_queries([queries])
    if isinstance(queries, (bytes, bytearray)) or not isinstance(queries, Iterable):
        raise ValidationError(
            "queries must be a str, a SearchQuery or an iterable of them, "
            f"not {type(queries).__name__}"
        )
    return as_queries(queries)


def watch_queries(
    queries: object, *, origin: str, refuse_empty: RefuseEmpty
) -> tuple[WatchQuery, ...]:
    """Check every query as ``search()`` would, and collapse those the tracker answers alike.

    Raises:
        ValidationError: No query, a query of the wrong type, or one ``search()`` refuses.
    """
    found: dict[str, WatchQuery] = {}
    for item in _as_items(queries):
        text = check_query(item.query)
        categories = check_categories(item.categories)
        tmdb_id = check_tmdb_id(item.tmdb_id)
        refuse_empty(text, tmdb_id)
        if categories != item.categories:
            item = msgspec.structs.replace(item, categories=categories)
        key = search_cache_key(origin, text, categories, tmdb_id)
        found.setdefault(key, WatchQuery(item, key))
    if not found:
        raise ValidationError("watch() needs at least one query")
    return tuple(found.values())


def check_watch(
    queries: object,
    *,
    interval: object,
    state: object,
    include_existing: object,
    match: object,
    budget_share: object,
    rng: object,
    origin: str,
    cache_ttl: float,
    refuse_empty: RefuseEmpty,
) -> WatchSettings:
    """Check the arguments of ``watch()`` before anything is sent.

    Raises:
        ValidationError: A bad query (as ``search()`` says), or a state path that is not text.
        ConfigurationError: A bad option, or an interval shorter than the search cache lives.
    """
    items = watch_queries(queries, origin=origin, refuse_empty=refuse_empty)
    floor = cache_ttl if cache_ttl > 0 else SERVER_CACHE_TTL
    seconds = None
    if interval is not None:
        seconds = check_duration(interval, "interval")
        if seconds < floor:
            # With no client cache the floor is the tracker's: no cache_ttl lowers it.
            lower = " (or a shorter cache_ttl)" if cache_ttl > 0 else ""
            raise ConfigurationError(
                f"an interval of {seconds:g} s is shorter than the search cache ({floor:g} s): "
                "the tracker would answer from its cache",
                option="interval",
                hint=f"use interval >= {floor:g}{lower}",
            )
    share = check_number(budget_share, "budget_share", 0.0, 1.0, open_low=True)
    if match is not None and not callable(match):
        raise ConfigurationError(
            f"match must be a callable taking a Torrent, not {describe(match)}"
        )
    if rng is not None and not isinstance(rng, random.Random):
        raise ConfigurationError(f"rng must be a random.Random, not {describe(rng)}")
    path = None
    if state is not None:
        path = expand_home(check_path(state, "state"), "state")
    return WatchSettings(
        queries=items,
        interval=seconds,
        floor=floor,
        share=share,
        include_existing=check_bool(include_existing, "include_existing"),
        match=match,
        state=path,
        rng=rng if rng is not None else random.Random(),
    )


def budget_interval(calls: int, period: float, share: float, count: int) -> float:
    """Return the shortest per-query interval keeping ``count`` queries within the share.

    Args:
        calls: Requests allowed per ``period`` (the key's longest window).
        period: The window's length in seconds.
        share: The share of ``calls`` the watch may spend.
        count: Distinct queries.

    Returns:
        ``period / floor(share * calls / count)``: every query polled the same whole number
        of times per window. With more queries than the share allows (fewer than one poll
        each per window), ``period * count / (share * calls)``.
    """
    allowed = share * calls
    # The epsilon keeps 0.5 * 200 / 10 at 10, not 9.999...
    per_query = math.floor(allowed / count + 1e-9)
    if per_query >= 1:
        return period / per_query
    return period * count / allowed


def plan_interval(settings: WatchSettings, windows: Sequence[tuple[int, float]]) -> WatchPlan:
    """Choose the interval of a watch from the key's windows (none: no key budget).

    Raises:
        ConfigurationError: A given interval would spend more than ``budget_share`` of the
            longest window (the message says which interval fits), or the share is so small
            that the interval would pass a year.
    """
    count = len(settings.queries)
    window = max(windows, key=lambda w: w[1]) if windows else None
    needed = 0.0
    if window is not None:
        needed = budget_interval(window[0], window[1], settings.share, count)
    if settings.interval is None:
        if needed > YEAR:  # a tiny budget_share: inf once, which no sleep or date takes
            raise _too_small(settings.share, count)
        return WatchPlan(
            interval=max(needed, settings.floor),
            count=count,
            window=window,
            share=settings.share,
            given=False,
        )
    if window is not None and settings.interval < needed * (1 - 1e-9):
        calls, period = window
        fits = f"{math.ceil(needed)} s"
        wait = describe_wait(needed)
        raise ConfigurationError(
            f"an interval of {settings.interval:g} s with {count} "
            f"quer{'y' if count == 1 else 'ies'} would spend more than a {settings.share:g} "
            f"share of the key's {describe_window(calls, period)} (at most "
            f"{math.floor(settings.share * calls)} searches): one every "
            f"{fits if wait == fits else f'{fits} ({wait})'} fits",
            option="budget_share",
            hint="use a longer interval, watch fewer queries, or raise budget_share",
        )
    return WatchPlan(
        interval=settings.interval,
        count=count,
        window=window,
        share=settings.share,
        given=True,
    )


def retry_delay(interval: float, failures: int, retry_after: float | None) -> float:
    """Return when a failed query is polled again: next round, then later as failures repeat.

    Args:
        interval: The watch's interval.
        failures: Failures in a row of this query (1 for the first).
        retry_after: What the error said to wait (a 429, a spent budget), if anything.

    Returns:
        ``interval`` doubled per failure after the first, capped at an hour (or the interval
        when that is longer), and never sooner than ``retry_after`` (itself taken as a day at
        most, and as nothing when it is not a number of seconds).
    """
    delay = min(interval * 2.0 ** min(failures - 1, 30), max(interval, _MAX_BACKOFF))
    wait = retry_after if retry_after is not None and retry_after == retry_after else 0.0
    return max(delay, min(wait, max(interval, _MAX_RETRY_AFTER)))
