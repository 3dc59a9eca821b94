"""The watch loop: poll each query in turn within the budget, yield each new release once.

It uses only the client's public surface: ``search(..., cache="use")`` (so it goes through the
limiter, the key budget, the cache and single-flight like any search), ``quota()`` for the key
windows, and the client's clock for every wait (a :class:`FakeClock` in tests: no sleeping).

One task, no task group across a ``yield``: the generator may be closed from another task (or
by the garbage collector), and every wait is a plain await that a cancellation ends at once.
The state changes only in synchronous transactions (:mod:`._watch_state`), so a cancellation
can never land in the middle of one.

Delivery is at-least-once: a release leaves the outbox only once its consumer is done with it,
that is when it asks for the next event (or sends :attr:`Delivery.DONE`), or closes the
iterator normally. Closed by a cancellation (Ctrl-C, a timeout) while the consumer held it, or
sent :attr:`Delivery.LATER`, the release stays, to be offered again at its query's next round
or the next start. Every pass over the outbox reads it afresh (at the start: every query's; after
a round: that query's), so what another process gave back or left behind is offered too.
"""

from __future__ import annotations

import asyncio
import enum
import heapq
import logging
import secrets
from collections.abc import AsyncGenerator, Callable, Sequence
from datetime import datetime
from typing import Any, Literal, Protocol

import msgspec

from ._bulk import SearchQuery
from ._clock import Clock, wall_clock
from ._errors import (
    BackendError,
    ConfigurationError,
    LaCaleError,
    RateLimitError,
    ResponseError,
    ServerError,
    StorageError,
    TransportError,
)
from ._models import Torrent
from ._quota import Quota, describe_wait, utc
from ._responses import Scrub
from ._watch_plan import (
    JITTER_SHARE,
    WatchPlan,
    WatchQuery,
    WatchSettings,
    plan_interval,
    retry_delay,
)
from ._watch_state import Pending, WatchState

__all__ = ["TRANSIENT", "Delivery", "Searcher", "WatchEvent", "watch_releases"]

logger = logging.getLogger("lacale_async.watch")

TRANSIENT: tuple[type[LaCaleError], ...] = (
    ServerError,
    TransportError,
    RateLimitError,  # QuotaExceededError included: a spent budget frees up later
    ResponseError,  # a challenge page or a broken answer: the next one may be fine
    BackendError,
)
"""Failures a watch logs and retries at a later round; any other error ends the watch."""


class WatchEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A new release found by :meth:`LaCaleClient.watch`.

    Attributes:
        query: The watched query that found it, as given (the first of queries that are the
            same once normalised).
        torrent: The release. One found by an earlier run and delivered after a restart has
            no ``download_link`` (the state never stores its token): ``download()`` then
            uses the documented path with the key.
        seen_at: When the watch first saw it (aware UTC datetime, the client's clock).
    """

    query: SearchQuery
    torrent: Torrent
    seen_at: datetime


class Delivery(enum.Enum):
    """What a consumer tells :meth:`LaCaleClient.watch` of the event it was given last.

    Sent with ``await events.asend(...)``, which returns the next event; asking for the next
    event any other way (``async for``, ``anext``) means ``DONE``.
    """

    DONE = "done"
    """Handled: the release leaves the outbox, never offered again."""
    LATER = "later"
    """Not handled yet (a save that failed for a transient reason): the release stays in the
    outbox and is offered again after its query's next round, or at the next start."""


class Searcher(Protocol):
    """What the loop needs of a client: its public ``search`` and ``quota``."""

    async def search(
        self,
        query: str | None = None,
        *,
        categories: str | Sequence[str] = (),
        tmdb_id: int | str | None = None,
        cache: Literal["use", "refresh", "bypass"] = "use",
    ) -> list[Torrent]:
        """Search, through the client's limiter, budget and cache."""
        ...

    async def quota(self) -> Quota:
        """Return the key-wide budget."""
        ...


class _Schedule:
    """When each query is polled next: spread over the interval at first, then one interval
    (plus jitter) after its previous poll ended, or later after a failure."""

    def __init__(self, queries: Sequence[WatchQuery], plan: WatchPlan, start: float) -> None:
        self._heap = [(start + i * plan.gap, i) for i in range(len(queries))]
        heapq.heapify(self._heap)

    def pop(self) -> tuple[float, int]:
        return heapq.heappop(self._heap)

    def push(self, due: float, index: int) -> None:
        heapq.heappush(self._heap, (due, index))


def watch_releases(
    client: Searcher, settings: WatchSettings, clock: Clock, scrub: Scrub
) -> AsyncGenerator[WatchEvent, Delivery | None]:
    """Return the async generator of a watch (arguments already checked).

    Args:
        client: An open client (its public ``search`` and ``quota``).
        settings: The checked arguments of ``watch()``.
        clock: The client's clock: every wait and every timestamp.
        scrub: Removes the key from what the state file keeps (a release's link).

    Returns:
        The events, as an async generator (close it with ``contextlib.aclosing``).
    """
    return _Events(_Watch(client, settings, clock, scrub).events())


class _Events(AsyncGenerator[WatchEvent, "Delivery | None"]):
    """The watch's generator, whose first ``asend`` of a reply is an SDK error, not Python's.

    Python refuses a value sent to a generator that has not started with a raw ``TypeError``
    before any of the watch's code runs; everything else goes to the generator itself.
    """

    __slots__ = ("_gen", "_started")

    def __init__(self, gen: AsyncGenerator[WatchEvent, Delivery | None]) -> None:
        self._gen = gen
        self._started = False

    async def __anext__(self) -> WatchEvent:
        self._started = True
        return await self._gen.__anext__()

    async def asend(self, value: Delivery | None) -> WatchEvent:
        if value is not None and not self._started:
            raise ConfigurationError(
                f"watch: nothing was yielded yet to reply {value!r} to; start with "
                "anext(events) or asend(None)"
            )
        self._started = True
        return await self._gen.asend(value)

    async def athrow(self, typ: Any, val: Any = None, tb: Any = None) -> WatchEvent:
        if val is None and tb is None:  # the one-argument form (three are deprecated in 3.12)
            return await self._gen.athrow(typ)
        return await self._gen.athrow(typ, val, tb)

    async def aclose(self) -> None:
        await self._gen.aclose()

    def __repr__(self) -> str:
        return f"<watch events {self._gen!r}>"


class _Watch:
    def __init__(
        self, client: Searcher, settings: WatchSettings, clock: Clock, scrub: Scrub
    ) -> None:
        self._client = client
        self._scrub = scrub
        self._settings = settings
        self._clock = clock
        self._wall = wall_clock(clock)
        self._by_key = {q.key: q for q in settings.queries}
        self._failures = [0] * len(settings.queries)
        self._owner = secrets.token_hex(8)  # names this watch's leases in a shared file
        # What this run's rounds found, download links included (the file never holds them):
        # an event handed out in the same run keeps its link. Emptied as releases are done.
        self._live: dict[tuple[str, str], Torrent] = {}

    async def events(self) -> AsyncGenerator[WatchEvent, Delivery | None]:
        quota = await self._client.quota()
        plan = plan_interval(self._settings, [(w.calls, w.period) for w in quota.windows])
        # Worded: the command's note handler names its own options (--budget-share).
        logger.info("%s", plan.wording)
        state = WatchState(self._settings.state, self._scrub)
        try:
            queries = self._settings.queries
            # First what an earlier run found and did not finish handing out (or another
            # process gave back), then after each round what that query's outbox holds.
            keys = list(self._by_key)
            schedule: _Schedule | None = None
            while True:
                for item in state.pending(keys):
                    # Built before the lease: an event that cannot be built changes nothing.
                    event = self._event(item)
                    if not state.take(item, self._owner, self._wall()):
                        continue  # done elsewhere, or another live watch is handing it out
                    consumer = asyncio.current_task()  # the task asking for this event
                    try:
                        reply = yield event
                    except GeneratorExit:
                        self._closed(state, item, consumer)
                        raise
                    except BaseException:
                        self._settle(state, item, Delivery.LATER)
                        raise
                    if reply is not None and not isinstance(reply, Delivery):
                        self._settle(state, item, Delivery.LATER)
                        raise ConfigurationError(
                            f"watch: send Delivery.DONE or Delivery.LATER, not {reply!r}"
                        )
                    self._settle(state, item, reply or Delivery.DONE, quiet=False)
                if schedule is None:
                    schedule = _Schedule(queries, plan, self._clock.now())
                due, index = schedule.pop()
                await self._clock.sleep(due - self._clock.now())
                next_in = await self._poll(queries[index], index, plan, state)
                schedule.push(self._clock.now() + next_in, index)
                keys = [queries[index].key]
        finally:
            state.close()

    def _closed(self, state: WatchState, item: Pending, consumer: asyncio.Task[Any] | None) -> None:
        """Settle the release held when the iterator is closed (``aclose``, ``aclosing``)."""
        task = asyncio.current_task()
        if task is not consumer:
            # Closed by another task: asyncio's finalizer, for an iterator nobody closed (a
            # bare ``async for`` cancelled, or left by ``break``). Its consumer may have been
            # halfway through the release: it is offered again.
            self._settle(state, item, Delivery.LATER)
            return
        # Task.cancelling() (Python 3.11+) tells a close by a cancellation (Ctrl-C, a timeout:
        # the consumer may be halfway through) from a close after handling it. Python 3.10
        # cannot tell them apart: a close counts as done there, as before at-least-once.
        cancelling = getattr(task, "cancelling", None)
        interrupted = cancelling is not None and cancelling() > 0
        self._settle(state, item, Delivery.LATER if interrupted else Delivery.DONE)

    def _settle(
        self, state: WatchState, item: Pending, reply: Delivery, *, quiet: bool = True
    ) -> None:
        """Remove the release from the outbox (``DONE``) or give it back (``LATER``).

        Raises:
            StorageError: The file failed, unless ``quiet``: while the iterator closes or
                another error propagates, a WARNING instead (the release is then offered
                again: at worst twice, never lost).
        """
        try:
            if reply is Delivery.LATER:
                state.give_back(item, self._owner)
            else:
                self._live.pop((item.key, item.ident), None)
                state.done(item)
        except StorageError as exc:
            if not quiet:
                raise
            logger.warning("watch: %s; the release will be offered again", exc)

    async def _poll(
        self, item: WatchQuery, index: int, plan: WatchPlan, state: WatchState
    ) -> float:
        """Search one query, its new releases to the outbox; return when to poll it next."""
        q = item.query
        try:
            listed = await self._client.search(
                q.query, categories=q.categories, tmdb_id=q.tmdb_id, cache="use"
            )
        except TRANSIENT as exc:
            self._failures[index] += 1
            failures = self._failures[index]
            retry_after = exc.retry_after if isinstance(exc, RateLimitError) else None
            delay = retry_delay(plan.interval, failures, retry_after)
            logger.warning(
                "watch: the search for %s failed (%s%s: %s); trying again in %s",
                _label(q),
                type(exc).__name__,
                f", {failures} times in a row" if failures > 1 else "",
                exc,
                describe_wait(delay),
            )
            return delay
        self._failures[index] = 0
        found = self._record(item, listed, state)
        jitter = self._settings.rng.uniform(0.0, JITTER_SHARE * plan.gap)
        logger.debug("watch: %s listed %d, %d new", _label(q), len(listed), len(found))
        return plan.interval + jitter

    def _record(self, item: WatchQuery, listed: list[Torrent], state: WatchState) -> list[Pending]:
        settings = self._settings
        match: Callable[[Torrent], bool] | None = settings.match
        with state.round(item.key, self._wall(), self._by_key) as step:
            fresh = step.unseen(listed)
            if step.baseline and not settings.include_existing:
                deliver: list[tuple[str, Torrent]] = []
            else:
                # Filtered releases are still recorded as seen (below): never offered again.
                deliver = [(i, t) for i, t in fresh if match is None or match(t)]
            # Oldest first, like a feed; the answer lists the newest first.
            deliver.sort(key=lambda pair: pair[1].pub_date)
            queued = step.record(listed, deliver)
        self._live.update(((p.key, p.ident), p.torrent) for p in queued)
        return queued

    def _event(self, item: Pending) -> WatchEvent:
        torrent = self._live.get((item.key, item.ident), item.torrent)
        return WatchEvent(
            query=self._by_key[item.key].query, torrent=torrent, seen_at=utc(item.seen_at)
        )


def _label(query: SearchQuery) -> str:
    text = repr(query.query) if query.query is not None else f"TMDB id {query.tmdb_id}"
    if query.categories:
        text += f" in {', '.join(query.categories)}"
    return text
