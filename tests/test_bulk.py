"""search_many: dedupe, bounded concurrency, per-item errors, progress, clean cancellation."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Sequence
from contextlib import aclosing
from typing import Any

import anyio
import pytest

from lacale_async._bulk import SearchOutcome, SearchQuery, search_many
from lacale_async._clock import FakeClock
from lacale_async._errors import NotFoundError, RateLimitError, ValidationError


def other_tasks() -> set[asyncio.Task[Any]]:
    return asyncio.all_tasks() - {asyncio.current_task()}


class FakeSearch:
    """Searches that take ``delays[query]`` fake seconds; tracks calls, concurrency, cancels."""

    def __init__(
        self,
        clock: FakeClock,
        delays: dict[str, float] | None = None,
        errors: dict[str, BaseException] | None = None,
    ) -> None:
        self.clock = clock
        self.delays = delays or {}
        self.errors = errors or {}
        self.calls: list[SearchQuery] = []
        self.running = 0
        self.max_running = 0
        self.cancelled = 0

    async def __call__(self, q: SearchQuery) -> Sequence[Any]:
        self.calls.append(q)
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            await self.clock.sleep(self.delays.get(q.query or "", 1.0))
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.running -= 1
        if (q.query or "") in self.errors:
            raise self.errors[q.query or ""]
        return [f"result for {q.query}"]


async def collect(it: Any) -> list[SearchOutcome]:
    return [o async for o in it]


async def test_identical_queries_run_once_and_yield_once() -> None:
    search = FakeSearch(FakeClock())
    queries: list[str | SearchQuery] = [
        "Amélie",
        "Amélie",
        SearchQuery(query="Amélie"),
        "amelie ",
        "Matrix",
        SearchQuery(query="x", categories=("films",)),
        SearchQuery(query="x", categories=("films",)),
        SearchQuery(query="x", tmdb_id="603"),
    ]
    outcomes = await collect(search_many(search, queries))
    got = sorted((o.query.query or "", o.query.categories, o.query.tmdb_id) for o in outcomes)
    # Normalised equivalents ("amelie ") keep their own outcome: the client coalesces them.
    assert got == [
        ("Amélie", (), None),
        ("Matrix", (), None),
        ("amelie ", (), None),
        ("x", (), "603"),
        ("x", ("films",), None),
    ]
    assert len(search.calls) == 5
    assert all(o.ok and o.results == [f"result for {o.query.query}"] for o in outcomes)


async def test_concurrency_is_bounded_and_used() -> None:
    clock = FakeClock()
    delays = {f"q{i}": float(1 + i % 5) for i in range(50)}
    search = FakeSearch(clock, delays)
    outcomes = await collect(search_many(search, list(delays), concurrency=4))
    assert len(outcomes) == 50
    assert search.max_running == 4


async def test_outcomes_arrive_in_completion_order() -> None:
    clock = FakeClock()
    search = FakeSearch(clock, {"slow": 3.0, "fast": 1.0, "medium": 2.0})
    outcomes = await collect(search_many(search, ["slow", "fast", "medium"]))
    assert [o.query.query for o in outcomes] == ["fast", "medium", "slow"]
    assert clock.now() == 3.0  # all three ran at the same time


async def test_sdk_errors_are_captured_per_query() -> None:
    missing = NotFoundError("nope", status=404)
    limited = RateLimitError("slow down", retry_after=5.0)
    search = FakeSearch(FakeClock(), errors={"b": missing, "d": limited})
    outcomes = await collect(search_many(search, ["a", "b", "c", "d"]))
    by_query = {o.query.query: o for o in outcomes}
    assert by_query["b"].error is missing
    assert by_query["b"].results is None
    assert not by_query["b"].ok
    assert by_query["d"].error is limited
    assert by_query["a"].ok
    assert by_query["c"].ok
    assert by_query["a"].error is None


async def test_other_exceptions_stop_the_batch_and_propagate() -> None:
    clock = FakeClock()
    search = FakeSearch(
        clock, delays={"bug": 1.0, "long1": 50.0, "long2": 50.0}, errors={"bug": KeyError("x")}
    )
    with pytest.raises(KeyError):
        await collect(search_many(search, ["long1", "bug", "long2"]))
    assert search.cancelled == 2
    assert not other_tasks()


async def test_progress_is_reported_after_each_outcome() -> None:
    calls: list[tuple[int, int]] = []
    search = FakeSearch(FakeClock())
    outcomes = await collect(
        search_many(search, ["a", "b", "a", "c"], on_progress=lambda d, t: calls.append((d, t)))
    )
    assert len(outcomes) == 3
    assert calls == [(1, 3), (2, 3), (3, 3)]


async def test_breaking_out_with_aclosing_cancels_the_rest_at_once() -> None:
    clock = FakeClock()
    delays = {"fast": 1.0} | {f"slow{i}": 100.0 for i in range(5)}
    search = FakeSearch(clock, delays)
    async with aclosing(search_many(search, list(delays), concurrency=3)) as outcomes:
        async for outcome in outcomes:
            assert outcome.query.query == "fast"
            break
    # Every slow search that had started (the fast one's worker took the next) is cancelled,
    # and the rest never start.
    assert len(search.calls) == 4
    assert search.cancelled == 3
    assert search.running == 0
    assert not other_tasks()
    assert clock.now() == 1.0


async def test_breaking_out_without_aclosing_still_cancels_the_rest() -> None:
    clock = FakeClock()
    delays = {"fast": 1.0, "slow1": 100.0, "slow2": 100.0}
    search = FakeSearch(clock, delays)
    async for _ in search_many(search, list(delays)):
        break
    for _ in range(10):  # the garbage-collected generator is closed by the loop, soon
        await asyncio.sleep(0)
    assert search.cancelled == 2
    assert not other_tasks()


async def test_cancelling_the_consumer_cancels_the_searches() -> None:
    clock = FakeClock()
    search = FakeSearch(clock, {f"q{i}": 100.0 for i in range(4)})

    async def consume() -> list[SearchOutcome]:
        return await collect(search_many(search, [f"q{i}" for i in range(4)], concurrency=2))

    consumer = asyncio.create_task(consume())
    await clock.sleep(10.0)
    assert search.running == 2
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    assert search.cancelled == 2
    assert search.running == 0
    assert not other_tasks()


async def test_a_consumer_cancelled_twice_waits_for_the_searches_and_closes() -> None:
    # A shutdown that cancels every task, or a second timeout, lands while the generator waits
    # for its cancelled searches: the wait was cut, the searches outlived the consumer and the
    # result stream was never closed (a ResourceWarning, an error under pytest).
    ending: list[str] = []

    async def slow_to_end(q: SearchQuery) -> Sequence[Any]:
        try:
            await asyncio.Event().wait()
        finally:
            with anyio.CancelScope(shield=True):  # its cleanup takes a few loop steps
                for _ in range(5):
                    await asyncio.sleep(0)
            ending.append(q.query or "")
        return []

    async def consume() -> None:
        async with aclosing(search_many(slow_to_end, ["a", "b"])) as outcomes:
            async for _ in outcomes:
                pass

    consumer = asyncio.create_task(consume())
    for _ in range(3):
        await asyncio.sleep(0)
    consumer.cancel()
    await asyncio.sleep(0)
    assert not consumer.done()
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    assert sorted(ending) == ["a", "b"]  # over before the consumer moved on
    assert not other_tasks()
    gc.collect()  # an unclosed stream warns as it is collected


async def test_nothing_starts_before_iteration_and_empty_input_yields_nothing() -> None:
    search = FakeSearch(FakeClock())
    it = search_many(search, ["a"])
    await asyncio.sleep(0)
    assert search.calls == []
    await it.aclose()
    assert await collect(search_many(search, [])) == []
    assert search.calls == []


async def test_tuple_results_become_lists() -> None:
    async def search(q: SearchQuery) -> tuple[str, ...]:
        return ("x", "y")

    [outcome] = await collect(search_many(search, ["a"]))
    assert outcome.results == ["x", "y"]


@pytest.mark.parametrize("concurrency", [0, -1, 1.5, True])
def test_concurrency_is_validated(concurrency: Any) -> None:
    with pytest.raises(ValidationError):
        search_many(FakeSearch(FakeClock()), ["a"], concurrency=concurrency)


@pytest.mark.parametrize("queries", [["a", 3], "abc", [b"bytes"]])
def test_query_types_are_validated(queries: Any) -> None:
    with pytest.raises(ValidationError):
        search_many(FakeSearch(FakeClock()), queries)


async def test_anyio_cancel_scope_around_the_consumer_cancels_the_searches() -> None:
    clock = FakeClock()
    search = FakeSearch(clock, {"fast": 1.0} | {f"q{i}": 100.0 for i in range(4)})
    seen: list[str | None] = []
    with anyio.CancelScope() as scope:

        async def cancel_soon() -> None:
            await clock.sleep(10.0)
            scope.cancel()

        canceller = asyncio.create_task(cancel_soon())
        async for outcome in search_many(search, ["fast", "q0", "q1", "q2", "q3"], concurrency=3):
            seen.append(outcome.query.query)  # noqa: PERF401 (kept if cancelled mid-loop)
    await canceller
    assert scope.cancelled_caught
    assert seen == ["fast"]
    assert search.running == 0
    assert search.cancelled == 3
    assert not other_tasks()
