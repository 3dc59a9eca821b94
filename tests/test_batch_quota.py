"""``search_many``'s plan against the key budget: what fits runs, the rest is refused unsent.

A real :class:`KeyBudget` on a :class:`MemoryLedger` and a :class:`FakeClock` (wall time starts
2026-01-01T00:00:00Z), units spent by hand; the search is a fake recording what it was asked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from lacale_async import FakeClock, QuotaExceededError
from lacale_async._batch_quota import BatchPlan, planned
from lacale_async._bulk import SearchFn, SearchQuery
from lacale_async._keybudget import KeyBudget
from lacale_async._ledger import MemoryLedger, Span, Usage
from lacale_async._limiter import Rate
from lacale_async._stats import KeyCounters

DAY = 86_400.0
START = datetime(2026, 1, 1, tzinfo=timezone.utc)


class CountingLedger(MemoryLedger):
    """A memory ledger that counts how often the budget is read, suspending as a store does."""

    reads = 0

    async def usage(self, spans: Sequence[Span]) -> Usage:
        self.reads += 1
        await asyncio.sleep(0)  # a store's read suspends (its worker thread), as a real one
        return await super().usage(spans)


def budget_of(clock: FakeClock, *rates: Rate) -> tuple[KeyBudget, CountingLedger]:
    ledger = CountingLedger(clock.wall)
    budget = KeyBudget(
        ledger,
        rates=list(rates),
        clock=clock,
        on_quota="raise",
        max_quota_wait=60.0,
        max_retry_wait=60.0,
        lease=40.0,
        stats=KeyCounters(),
    )
    return budget, ledger


async def spend(budget: KeyBudget, count: int) -> None:
    for _ in range(count):
        await budget.release(await budget.acquire(), counted=True)


class FakeSearch:
    """Answers every query with its own text; records what was sent."""

    def __init__(self) -> None:
        self.sent: list[SearchQuery] = []

    async def __call__(self, item: SearchQuery) -> Sequence[Any]:
        self.sent.append(item)
        return [item.query]


def key(item: SearchQuery) -> str:
    """Queries the tracker answers alike ("A ", "a") share a request key."""
    return (item.query or "").strip().lower()


def nothing_cached(key: str) -> bool:
    return False


def queries(*texts: str) -> list[SearchQuery]:
    return [SearchQuery(text) for text in texts]


async def run_all(
    items: list[SearchQuery], budget: KeyBudget | None, cached: Any = nothing_cached
) -> tuple[dict[str, QuotaExceededError | None], FakeSearch]:
    """Run every item through the plan; return each query's error (None: it ran)."""
    search = FakeSearch()
    run = planned(search, items, budget, request_key=key, cached=cached)
    return {str(item.query): await refusal(run, item) for item in items}, search


async def refusal(run: SearchFn, item: SearchQuery) -> QuotaExceededError | None:
    """Return the error ``run`` refuses ``item`` with, or None when it ran."""
    try:
        assert await run(item) == [item.query]
    except QuotaExceededError as exc:
        return exc
    return None


async def test_without_a_key_budget_the_search_is_left_as_it_is() -> None:
    search = FakeSearch()
    assert planned(search, queries("a"), None, request_key=key, cached=nothing_cached) is search


async def test_a_batch_that_fits_runs_whole() -> None:
    budget, _ = budget_of(FakeClock(), (3, DAY))
    errors, search = await run_all(queries("a", "b", "c"), budget)
    assert errors == {"a": None, "b": None, "c": None}
    assert [item.query for item in search.sent] == ["a", "b", "c"]


async def test_the_first_requests_that_fit_run_and_the_rest_are_refused_unsent() -> None:
    clock = FakeClock()
    budget, _ = budget_of(clock, (3, DAY))
    await spend(budget, 1)
    clock.advance(3600.0)
    errors, search = await run_all(queries("a", "b", "c", "d"), budget)
    assert [q for q, error in errors.items() if error is None] == ["a", "b"]
    assert [item.query for item in search.sent] == ["a", "b"]  # nothing sent for c and d
    error = errors["c"]
    assert error is not None
    # The one unit spent frees a day (and the 0.25 s margin) after its exit.
    assert str(error) == (
        "not run: this batch needs 4 requests but the key-wide budget (3 per 24 h) allows "
        "2 more now, so only the first 2 run; the budget frees up in 23 h 01 min, at "
        "2026-01-02 00:00:00 UTC; nothing was sent"
    )
    assert error.status == 429
    assert error.retry_at == START + timedelta(seconds=DAY + 0.25)
    assert error.retry_after == pytest.approx(DAY + 0.25 - 3600.0)
    assert (error.window, error.used) == ((3, DAY), 1)


async def test_queries_answered_alike_count_once_and_are_refused_together() -> None:
    budget, _ = budget_of(FakeClock(), (2, DAY))
    errors, search = await run_all(queries("a", "b", "A ", "c", " C"), budget)
    assert [q for q, error in errors.items() if error is None] == ["a", "b", "A "]
    assert "needs 3 requests" in str(errors["c"])
    assert errors[" C"] is not None
    assert len(search.sent) == 3  # the engine would answer "A " from "a"'s request


async def test_cached_queries_cost_nothing_and_run_even_with_no_room_left() -> None:
    clock = FakeClock()
    budget, _ = budget_of(clock, (2, DAY))
    await spend(budget, 2)
    errors, _ = await run_all(queries("hit", "miss"), budget, cached=lambda k: k == "hit")
    assert errors["hit"] is None
    error = errors["miss"]
    assert error is not None
    assert "this batch needs 1 request but" in str(error)
    assert "allows 0 more now, so none of it runs;" in str(error)


async def test_in_an_empty_window_the_budget_frees_a_period_and_its_margin_after_now() -> None:
    # The batch's own first unit frees as every unit does: a period and the window's margin
    # (0.25 s for a day) after it leaves, as the limiter counts it.
    clock = FakeClock()
    clock.advance(90.0)
    budget, _ = budget_of(clock, (1, DAY))
    errors, _ = await run_all(queries("a", "b"), budget)
    error = errors["b"]
    assert error is not None
    assert error.retry_after == DAY + 0.25
    assert error.retry_at == START + timedelta(seconds=90.0 + DAY + 0.25)
    assert "frees up in 24 h 01 min, at 2026-01-02 00:01:30 UTC" in str(error)  # rounded up


async def test_the_tightest_quota_window_is_planned_around_and_burst_windows_ignored() -> None:
    clock = FakeClock()
    # The 10 s burst window would allow one request: it is waited out, never refused.
    budget, _ = budget_of(clock, (1, 10.0), (10, DAY), (4, 7 * DAY))
    await spend(budget, 2)
    clock.advance(20.0)
    errors, _ = await run_all(queries("a", "b", "c", "d"), budget)
    assert [q for q, error in errors.items() if error is None] == ["a", "b"]
    error = errors["c"]
    assert error is not None
    assert "the key-wide budget (4 per 168 h) allows 2 more now" in str(error)
    assert (error.window, error.used) == ((4, 7 * DAY), 2)


async def test_a_budget_of_burst_windows_only_is_never_read() -> None:
    budget, ledger = budget_of(FakeClock(), (1, 10.0))
    errors, _ = await run_all(queries("a", "b", "c"), budget)
    assert errors == {"a": None, "b": None, "c": None}
    assert ledger.reads == 0


async def test_a_running_pause_refuses_the_whole_batch_until_it_ends() -> None:
    clock = FakeClock()
    budget, _ = budget_of(clock, (5, DAY))
    await budget.unexpected_429(2 * 3600.0, "search")
    errors, search = await run_all(queries("a", "b"), budget)
    assert search.sent == []
    error = errors["a"]
    assert error is not None
    assert errors["b"] is not None
    assert errors["b"] is not error
    # The pause's own refusal, as one search() would get it: no window to blame.
    assert str(error).startswith("the key-wide budget is paused: the tracker answered 429")
    assert "may go in 2 h 00 min, at 2026-01-01 02:00:00 UTC" in str(error)
    assert (error.retry_after, error.window, error.used) == (2 * 3600.0, None, 0)


async def test_a_pause_a_search_would_wait_out_holds_no_batch_back() -> None:
    # Regression: a 5 s pause refused the whole batch, while one search() waits it out.
    clock = FakeClock()
    budget, _ = budget_of(clock, (5, DAY))
    await budget.unexpected_429(5.0, "search")
    errors, search = await run_all(queries("a", "b"), budget)
    assert errors == {"a": None, "b": None}
    assert [item.query for item in search.sent] == ["a", "b"]


async def test_the_plan_is_made_once_for_the_whole_batch() -> None:
    clock = FakeClock()
    budget, ledger = budget_of(clock, (2, DAY))
    items = queries("a", "b", "c")
    plan = BatchPlan(budget, items, request_key=key, cached=nothing_cached)
    await plan.admit(items[0])
    await spend(budget, 2)  # the day is spent now, but "b" was planned to fit
    await plan.admit(items[1])
    with pytest.raises(QuotaExceededError, match="needs 3 requests"):
        await plan.admit(items[2])
    assert ledger.reads == 1


async def test_each_refused_query_gets_an_error_of_its_own() -> None:
    budget, _ = budget_of(FakeClock(), (1, DAY))
    items = queries("a", "b", "c")
    plan = BatchPlan(budget, items, request_key=key, cached=nothing_cached)
    raised = []
    for item in (items[1], items[2], items[2]):
        with pytest.raises(QuotaExceededError) as info:
            await plan.admit(item)
        raised.append(info.value)
    assert len({id(error) for error in raised}) == 3  # each outcome has its own traceback
    assert len({str(error) for error in raised}) == 1
    await plan.admit(items[0])


async def test_concurrent_admissions_share_one_plan() -> None:
    budget, ledger = budget_of(FakeClock(), (2, DAY))
    items = queries("a", "b", "c")
    plan = BatchPlan(budget, items, request_key=key, cached=nothing_cached)
    results = await asyncio.gather(*(plan.admit(i) for i in items), return_exceptions=True)
    assert results[:2] == [None, None]
    assert isinstance(results[2], QuotaExceededError)
    assert ledger.reads == 1


async def test_with_on_quota_wait_a_pause_within_max_quota_wait_holds_no_batch_back() -> None:
    clock = FakeClock()
    budget = KeyBudget(
        MemoryLedger(clock.wall),
        rates=[(5, DAY)],
        clock=clock,
        on_quota="wait",
        max_quota_wait=3 * 3600.0,
        max_retry_wait=60.0,
        lease=40.0,
        stats=KeyCounters(),
    )
    await budget.unexpected_429(2 * 3600.0, "search")
    assert budget.pause_refusal(2 * 3600.0, clock.wall()) is None  # waited out, as one search
    refuse = budget.pause_refusal(4 * 3600.0, clock.wall())
    assert refuse is not None
    assert refuse() is not refuse()  # one error per caller
    errors, search = await run_all(queries("a"), budget)
    assert errors == {"a": None}
    assert len(search.sent) == 1
