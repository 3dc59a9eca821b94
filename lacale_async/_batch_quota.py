"""``search_many`` and the key budget: run what fits today, report the rest, drop nothing.

Before the first search starts, the plan reads what the key's quota windows (the daily budget)
still allow and counts the requests the batch needs: distinct *requests*, so queries the
tracker answers alike ("Amélie", "amelie ") count once and queries already in the cache count
not at all. The first queries that fit run; every other one gets an outcome whose error is
:class:`QuotaExceededError` (saying how many did not fit and when the budget frees up), without
anything being sent for it. A 429's pause is met as one search meets it: waited out when
short, else every query not in the cache gets the pause's own error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import timedelta
from functools import partial
from typing import Any

from ._bulk import SearchFn, SearchQuery
from ._errors import QuotaExceededError
from ._keybudget import KeyBudget
from ._limiter import default_margin
from ._quota import describe_wait, describe_window

__all__ = ["BatchPlan", "planned"]


def planned(
    search: SearchFn,
    items: Sequence[SearchQuery],
    budget: KeyBudget | None,
    *,
    request_key: Callable[[SearchQuery], str],
    cached: Callable[[str], bool],
) -> SearchFn:
    """Return ``search`` held to the batch's plan (``search`` itself without a key budget).

    Args:
        search: Runs one query.
        items: The batch (see :class:`BatchPlan`), and the other arguments likewise.

    Returns:
        A search that raises :class:`QuotaExceededError`, sending nothing, for the queries
        that do not fit in what the budget allows today.
    """
    if budget is None:
        return search
    plan = BatchPlan(budget, items, request_key=request_key, cached=cached)

    async def run(item: SearchQuery) -> Sequence[Any]:
        await plan.admit(item)
        return await search(item)

    return run


class BatchPlan:
    """Decides, once, which queries of a batch the key budget lets run.

    Args:
        budget: The client's key budget.
        items: The batch, in input order (duplicates already merged).
        request_key: The cache key of a query (equal for queries answered alike).
        cached: True when a cache key is answered from the cache now.
    """

    __slots__ = ("_budget", "_cached", "_items", "_lock", "_refused", "_request_key")

    def __init__(
        self,
        budget: KeyBudget,
        items: Sequence[SearchQuery],
        *,
        request_key: Callable[[SearchQuery], str],
        cached: Callable[[str], bool],
    ) -> None:
        self._budget = budget
        self._items = items
        self._request_key = request_key
        self._cached = cached
        self._lock = asyncio.Lock()
        # Query -> what builds its error: each outcome gets an error object of its own.
        self._refused: dict[SearchQuery, Callable[[], QuotaExceededError]] | None = None

    async def admit(self, item: SearchQuery) -> None:
        """Return when ``item`` may run.

        Raises:
            QuotaExceededError: The item does not fit in what the budget allows today.
        """
        if self._refused is None:
            async with self._lock:
                if self._refused is None:
                    self._refused = await self._plan()
        refusal = self._refused.get(item)
        if refusal is not None:
            raise refusal()

    async def _plan(self) -> dict[SearchQuery, Callable[[], QuotaExceededError]]:
        quota_windows = self._budget.quota_windows()
        if not quota_windows:
            return {}
        quota = await self._budget.quota()
        needed: dict[str, list[SearchQuery]] = {}
        for item in self._items:
            key = self._request_key(item)
            if not self._cached(key):
                needed.setdefault(key, []).append(item)
        if quota.paused_until is not None and needed:
            # A 429's pause: what a single search would meet, the wait or the error.
            left = (quota.paused_until - quota.at).total_seconds()
            paused = self._budget.pause_refusal(left, quota.at.timestamp())
            if paused is not None:
                return {item: paused for group in needed.values() for item in group}
        windows = [quota.windows[i] for i in quota_windows]
        tightest = min(windows, key=lambda w: w.remaining)
        room = tightest.remaining
        if len(needed) <= room:
            return {}
        # The oldest unit counted frees first; in an empty window, the batch's own first one.
        frees_at = tightest.next_free_at or quota.at + timedelta(
            seconds=tightest.period + default_margin(tightest.period)
        )
        retry_after = max(0.0, (frees_at - quota.at).total_seconds())
        runs = f"only the first {room} run" if room else "none of it runs"
        requests = f"{len(needed)} request{'s' if len(needed) != 1 else ''}"
        message = (
            f"not run: this batch needs {requests} but the key-wide budget "
            f"({describe_window(tightest.calls, tightest.period)}) allows {room} more now, so "
            f"{runs}; the budget frees up in {describe_wait(retry_after)}, "
            f"at {frees_at:%Y-%m-%d %H:%M:%S} UTC; nothing was sent"
        )
        refusal = partial(
            QuotaExceededError,
            message,
            retry_after=retry_after,
            retry_at=frees_at,
            window=(tightest.calls, tightest.period),
            used=tightest.used,
        )
        return {item: refusal for group in list(needed.values())[room:] for item in group}
