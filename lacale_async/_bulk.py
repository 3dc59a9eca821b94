"""Bulk search: many queries, deduplicated, run with bounded concurrency, yielded as they end.

Usage (``contextlib.aclosing`` makes leaving the loop early cancel the remaining searches
at once; without it they are cancelled when the iterator is garbage-collected, which CPython
does right after the loop is left)::

    async with contextlib.aclosing(search_many(search, queries)) as outcomes:
        async for outcome in outcomes:
            ...

The searches run in a task group hosted by a task of their own, never across the
generator's ``yield``: anyio forbids a task group spanning a yield, because the generator may
be closed from another task (by the garbage collector's finalizer) than the one that opened it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Iterator, Sequence
from typing import Any

import anyio
import msgspec
from anyio.streams.memory import MemoryObjectSendStream

from ._cancel import run_to_end
from ._errors import LaCaleError, ValidationError
from ._options import describe, is_count

__all__ = [
    "SearchOutcome",
    "SearchQuery",
    "as_queries",
    "search_many",
]


class SearchQuery(msgspec.Struct, frozen=True):
    """One search of a bulk run.

    Attributes:
        query: The search text, or None.
        categories: Category slugs (order and duplicates do not matter).
        tmdb_id: An exact TMDB id, or None.
    """

    query: str | None = None
    categories: tuple[str, ...] = ()
    tmdb_id: int | str | None = None


class SearchOutcome(msgspec.Struct):
    """What one search of a bulk run gave: its results, or the error that stopped it.

    Attributes:
        query: The query as given (the first of its duplicates).
        results: The torrents found, or None when the search failed.
        error: The SDK error the search raised, or None on success.
    """

    query: SearchQuery
    results: list[Any] | None = None
    error: LaCaleError | None = None

    @property
    def ok(self) -> bool:
        """True when the search succeeded."""
        return self.error is None


SearchFn = Callable[[SearchQuery], Awaitable[Sequence[Any]]]


def as_queries(queries: Iterable[str | SearchQuery]) -> list[SearchQuery]:
    """Turn the caller's queries into :class:`SearchQuery` objects, in order.

    Raises:
        ValidationError: A single string or a non-iterable instead of an iterable, or an item
            that is neither a str nor a SearchQuery.
    """
    if isinstance(queries, (str, bytes)):
        raise ValidationError(
            "queries must be an iterable of queries, not a single string; "
            "use search() for one query"
        )
    try:
        iterator = iter(queries)
    except TypeError:
        raise ValidationError(
            f"queries must be an iterable of str or SearchQuery, not {type(queries).__name__}"
        ) from None
    items: list[SearchQuery] = []
    for item in iterator:
        if isinstance(item, str):
            item = SearchQuery(query=item)
        elif not isinstance(item, SearchQuery):
            raise ValidationError(f"a query must be a str or a SearchQuery, not {describe(item)}")
        items.append(item)
    return items


def _distinct(queries: Iterable[str | SearchQuery]) -> list[SearchQuery]:
    seen: set[SearchQuery] = set()
    distinct: list[SearchQuery] = []
    for item in as_queries(queries):
        # Only identical queries are merged here. Queries the tracker treats alike ("Amélie",
        # "amelie ") each keep their own outcome; the client's single-flight and cache make
        # them share one request, which its stats then show as coalesced calls or cache hits.
        if item not in seen:
            seen.add(item)
            distinct.append(item)
    return distinct


def search_many(
    search: SearchFn,
    queries: Iterable[str | SearchQuery],
    *,
    concurrency: int = 8,
    on_progress: Callable[[int, int], None] | None = None,
) -> AsyncGenerator[SearchOutcome, None]:
    """Run ``search`` over many queries concurrently and yield each outcome as it completes.

    Identical queries run once and yield once; queries that are only equal once normalised
    each yield their own outcome (the client lets them share one request). An SDK error
    (:class:`LaCaleError`) from one query is captured in its outcome and the batch goes on;
    any other exception cancels the batch and is raised from the iterator. Leaving the
    ``async for`` early, calling ``aclose()`` or cancelling the consumer cancels the searches
    still running. Nothing starts before the first outcome is asked for.

    Args:
        search: Runs one query and returns its results.
        queries: Query strings or :class:`SearchQuery` objects (read at once, here).
        concurrency: Most searches running at the same time.
        on_progress: Called with ``(done, total)`` before each outcome is yielded; ``total``
            counts distinct queries.

    Returns:
        An async generator of :class:`SearchOutcome` (wrap it in ``contextlib.aclosing`` to
        cancel the rest deterministically when leaving the loop early).

    Raises:
        ValidationError: ``concurrency`` is not an int >= 1, ``on_progress`` is not callable,
            or a query has the wrong type.
    """
    if not is_count(concurrency):
        raise ValidationError(f"concurrency must be an int >= 1, got {describe(concurrency)}")
    if on_progress is not None and not callable(on_progress):
        raise ValidationError(
            f"on_progress must be a callable or None, not {type(on_progress).__name__}"
        )
    return _outcomes(search, _distinct(queries), concurrency, on_progress)


async def _outcomes(
    search: SearchFn,
    items: list[SearchQuery],
    concurrency: int,
    on_progress: Callable[[int, int], None] | None,
) -> AsyncGenerator[SearchOutcome, None]:
    total = len(items)
    if not total:
        return
    send, receive = anyio.create_memory_object_stream[SearchOutcome](concurrency)
    runner = asyncio.get_running_loop().create_task(
        _run(search, items, min(concurrency, total), send)
    )
    runner.add_done_callback(_retrieve)
    try:
        done = 0
        async for outcome in receive:
            done += 1
            if on_progress is not None:
                on_progress(done, total)
            yield outcome
        await runner  # raises the exception that cancelled the batch, if any
    finally:
        try:
            if not runner.done():
                runner.cancel()
                # The searches must be over before the consumer moves on, even when it is
                # cancelled again meanwhile (a shutdown cancelling every task, a second
                # timeout): waited for to their end, the cancellation raised after.
                # Cancelled, they end at once.
                await run_to_end(_ended(runner))
        finally:
            receive.close()
            send.close()  # idempotent; needed when the runner was cancelled before it started


async def _ended(runner: asyncio.Task[None]) -> None:
    await asyncio.wait((runner,))


def _retrieve(task: asyncio.Task[None]) -> None:
    # Marks a failure as retrieved when the consumer left before reading it: no "Task
    # exception was never retrieved" report for an error nobody is waiting for any more.
    if not task.cancelled():
        task.exception()


async def _run(
    search: SearchFn,
    items: list[SearchQuery],
    workers: int,
    send: MemoryObjectSendStream[SearchOutcome],
) -> None:
    pending = iter(items)
    failure: list[Exception] = []
    async with send, anyio.create_task_group() as tg:
        for _ in range(workers):
            tg.start_soon(_worker, search, pending, send, failure, tg.cancel_scope)
    if failure:
        # Raised bare rather than as the task group's ExceptionGroup: one failure, one error.
        raise failure[0]


async def _worker(
    search: SearchFn,
    pending: Iterator[SearchQuery],
    send: MemoryObjectSendStream[SearchOutcome],
    failure: list[Exception],
    scope: anyio.CancelScope,
) -> None:
    # Workers pull from one shared iterator: ``workers`` tasks in all, however many queries.
    for item in pending:
        try:
            results = await search(item)
        except LaCaleError as exc:
            outcome = SearchOutcome(item, None, exc)
        except Exception as exc:
            failure.append(exc)
            scope.cancel()
            return
        else:
            outcome = SearchOutcome(item, results if isinstance(results, list) else list(results))
        try:
            await send.send(outcome)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            return  # the consumer is gone
