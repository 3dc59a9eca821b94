"""Sending one call: through the endpoint's limiter and the key budget, retrying what is safe.

One send, one slot: every attempt that may reach the network holds its own endpoint slot and
its own key-budget unit, taken right before it is sent and stamped when its answer arrived. A
retry takes new ones; so does a redirect hop (the transport calls back before each hop), and
the transport refuses aiohttp's hidden re-send of a reset request (see ``_session``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from contextlib import AbstractAsyncContextManager
from types import TracebackType

import aiohttp

from ._cancel import CLOSED_IN_FLIGHT, Callers
from ._clock import Clock
from ._endpoints import Endpoint
from ._errors import ClientStateError, ConnectError, RateLimitError, TransportError
from ._keybudget import KeyBudget
from ._limiter import RateLimiter
from ._responses import Scrub, api_error, outcome_unknown_note
from ._retry import Backoff
from ._stats import EndpointCounters, StatsRecorder
from ._transport import NO_PARAMS, Params, Response, Transport
from ._wait_event import WaitReporter

__all__ = ["Sender"]

logger = logging.getLogger("lacale_async")

# One request's own arguments, as the transport takes them: method, path, params, form,
# authenticate, scrub. Built once per send, whatever the attempts.
_Call = tuple[str, str, Params, Callable[[], aiohttp.FormData] | None, bool, Scrub | None]


class _Slots:
    """The endpoint slot and the key-budget unit of one attempt, entered and left together.

    The endpoint slot comes first: a caller queued on its endpoint holds no key unit, so the
    other endpoints' requests are not held back by it. A key budget that refuses (nothing was
    sent) gives the endpoint slot back unspent.
    """

    __slots__ = ("_budget", "_clock", "_counters", "_held", "_limiter", "_name", "_waits")

    def __init__(
        self,
        name: Endpoint,
        limiter: RateLimiter | None,
        budget: KeyBudget | None,
        counters: EndpointCounters,
        clock: Clock,
        waits: WaitReporter | None,
    ) -> None:
        self._name = name
        self._limiter = limiter
        self._budget = budget
        self._counters = counters
        self._clock = clock
        self._waits = waits
        self._held: list[AbstractAsyncContextManager[None]] = []

    async def __aenter__(self) -> None:
        clock = self._clock
        waits = self._waits
        started = clock.now()
        if self._limiter is not None:
            slot = self._limiter.slot()
            if waits is None:
                await slot.__aenter__()
            else:
                await waits.enter(slot, self._name, key=False)
            self._held.append(slot)
        if self._budget is not None:
            unit = self._budget.slot()
            try:
                if waits is None:
                    await unit.__aenter__()
                else:
                    await waits.enter(unit, self._name, key=True)
            except BaseException as exc:
                await self._leave(type(exc), exc, exc.__traceback__)
                raise
            self._held.append(unit)
        waited = clock.now() - started
        self._counters.limiter_wait += waited
        if waited > 0.001:
            logger.debug("%s waited %.3f s for its rate limits", self._name, waited)
        self._counters.requests += 1

    async def _leave(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        held, self._held = self._held, []
        for slot in reversed(held):
            await slot.__aexit__(exc_type, exc, tb)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._leave(exc_type, exc, tb)

    async def renew(self) -> None:
        """End this attempt (its answer arrived) and take new slots for the next hop."""
        await self._leave(None, None, None)
        await self.__aenter__()


class Sender:
    """Sends the requests of one open client: endpoint limiter, key budget, retries.

    GET requests are retried on 429, 5xx and transport errors. A non-idempotent request (an
    upload) is retried only when it never left (no connection) or the server refused it
    (429); any other failure after sending raises at once with ``outcome_unknown``.

    Args:
        transport: The open transport.
        limiters: One limiter (or None) per endpoint name.
        stats: Where counters go.
        clock: Time source for limiter waits and retry delays.
        backoff: Delays between attempts.
        max_retries: Retries after the first attempt.
        max_retry_wait: Longest Retry-After waited out (and longest shared pause).
        scrub: Removes the key from server text.
        wall: Reads the wall-clock time (Unix seconds) matching ``clock``, for
            ``Retry-After`` dates.
        budget: The key-wide budget every attempt spends a unit of, or None.
        waits: Reports every wait for a limiter or the budget (``on_wait``), or None.
    """

    __slots__ = (
        "_backoff",
        "_budget",
        "_callers",
        "_clock",
        "_limiters",
        "_max_retries",
        "_max_retry_wait",
        "_scrub",
        "_stats",
        "_transport",
        "_waits",
        "_wall",
    )

    def __init__(
        self,
        *,
        transport: Transport,
        limiters: Mapping[Endpoint, RateLimiter | None],
        stats: StatsRecorder,
        clock: Clock,
        backoff: Backoff,
        max_retries: int,
        max_retry_wait: float,
        scrub: Scrub,
        wall: Callable[[], float],
        budget: KeyBudget | None = None,
        waits: WaitReporter | None = None,
    ) -> None:
        self._transport = transport
        self._limiters = limiters
        self._stats = stats
        self._clock = clock
        self._backoff = backoff
        self._max_retries = max_retries
        self._max_retry_wait = max_retry_wait
        self._scrub = scrub
        self._wall = wall
        self._budget = budget
        self._waits = waits
        self._callers = Callers()

    async def aclose(self) -> None:
        """End the requests in flight, then close the transport; harmless when closed already.

        Their callers raise :class:`ClientStateError`: a request no longer waits for a limiter,
        nor reads an answer, once its session is being closed.
        """
        await self._callers.close()
        await self._transport.aclose()

    async def _attempt(
        self,
        endpoint: Endpoint,
        limiter: RateLimiter | None,
        counters: EndpointCounters,
        call: _Call,
    ) -> Response:
        """One attempt holding its endpoint slot and key-budget unit (see :class:`_Slots`)."""
        method, path, params, form, authenticate, scrub = call
        slots = _Slots(endpoint, limiter, self._budget, counters, self._clock, self._waits)
        async with slots:
            return await self._transport.round_trip(
                method,
                path,
                params=params,
                form=form,
                authenticate=authenticate,
                before_redirect=slots.renew,
                scrub=scrub,
            )

    async def _rate_limited(self, error: RateLimitError, endpoint: Endpoint, attempt: int) -> None:
        """Share a 429's pause with every caller of the endpoint and of the key."""
        self._stats.endpoints[endpoint].rate_limited += 1
        retry_after = error.retry_after
        pause = retry_after if retry_after is not None else self._backoff.delay(attempt)
        if self._budget is not None:
            # The budget let this request go, yet the tracker refused it: the key's real
            # budget is smaller. The whole key waits, as long as the tracker said; this
            # endpoint too, so its limiter is not paused as well: a pause longer than
            # max_retry_wait is then refused at once, not after max_retry_wait of waiting.
            await self._budget.unexpected_429(pause, endpoint)
            return
        limiter = self._limiters[endpoint]
        if limiter is not None:
            # Everyone queued on this endpoint waits, not only this caller; never longer than
            # max_retry_wait, or one 429 could stall the client for days.
            await limiter.pause(min(pause, self._max_retry_wait))

    async def send(
        self,
        endpoint: Endpoint,
        method: str,
        path: str,
        *,
        params: Params = NO_PARAMS,
        form: Callable[[], aiohttp.FormData] | None = None,
        idempotent: bool = True,
        info_hash: str | None = None,
        authenticate: bool = True,
        scrub: Scrub | None = None,
    ) -> Response:
        """Send a request through ``endpoint``'s limiter and the key budget; return its 2xx.

        ``authenticate=False`` leaves the key off (a download link carries its own token).
        ``scrub`` replaces the client's for the server text put in errors, the transport's
        included (one that also removes the link's token).

        Raises:
            QuotaExceededError: The key budget is spent (nothing was sent for that attempt).
            APIError: A non-2xx answer, after the retries it deserved.
            TransportError: The request failed, after the retries it deserved.
            ClientStateError: The client closed before or while it was sent.
        """
        # The close's register and the retry loop in one coroutine: a request resumes through
        # one frame less each time its answer arrives.
        task = self._callers.enter()
        try:
            limiter = self._limiters[endpoint]
            counters = self._stats.endpoints[endpoint]
            limited = limiter is not None or self._budget is not None
            call = (method, path, params, form, authenticate, scrub)
            attempt = 0
            while True:
                retry_after: float | None = None
                try:
                    resp = await (
                        self._attempt(endpoint, limiter, counters, call)
                        if limited
                        else self._unheld(counters, call)
                    )
                except TransportError as exc:
                    if self._gives_up(exc, counters, attempt, idempotent, info_hash):
                        raise
                else:
                    if 200 <= resp.status < 300:
                        return resp
                    retry_after = await self._refused(
                        resp, endpoint, attempt, idempotent, info_hash, scrub or self._scrub
                    )
                await self._before_retry(endpoint, counters, attempt, retry_after, limited)
                attempt += 1
        except asyncio.CancelledError:
            if not self._callers.leave(task):
                raise
            raise _closed_in_flight(idempotent, info_hash) from None
        finally:
            self._callers.leave(task)

    def _unheld(self, counters: EndpointCounters, call: _Call) -> Coroutine[None, None, Response]:
        """One attempt with nothing to hold (no endpoint limit nor key budget): no slots.

        Not a coroutine: it returns the transport's, so the attempt costs no frame of ours;
        a redirect hop is still counted.
        """
        method, path, params, form, authenticate, scrub = call
        counters.requests += 1
        return self._transport.round_trip(
            method,
            path,
            params=params,
            form=form,
            authenticate=authenticate,
            before_redirect=counters.count_hop,
            scrub=scrub,
        )

    def _gives_up(
        self,
        exc: TransportError,
        counters: EndpointCounters,
        attempt: int,
        idempotent: bool,
        info_hash: str | None,
    ) -> bool:
        """True when a transport failure is raised now: an upload that may have left, or the
        retries are spent (it is then counted, and an upload's marked ``outcome_unknown``)."""
        # An upload body that may have gone out is never sent again: it could land twice.
        sent = not idempotent and not isinstance(exc, ConnectError)
        if sent:
            exc.outcome_unknown = True
            exc.message += outcome_unknown_note(info_hash)
        if sent or attempt >= self._max_retries:
            counters.errors += 1
            return True
        return False

    async def _before_retry(
        self,
        endpoint: Endpoint,
        counters: EndpointCounters,
        attempt: int,
        retry_after: float | None,
        limited: bool,
    ) -> None:
        """Count the retry after attempt ``attempt`` (0: the first) and wait out its delay."""
        delay = self._backoff.delay(attempt, retry_after)
        counters.retries += 1
        logger.debug("%s: retry %d in %.2f s", endpoint, attempt + 1, delay)
        if not (limited and retry_after is not None):
            # The pause after the 429 (the key budget's, else the limiter's) holds it back.
            await self._clock.sleep(delay)

    async def _refused(
        self,
        resp: Response,
        endpoint: Endpoint,
        attempt: int,
        idempotent: bool,
        info_hash: str | None,
        scrub: Scrub,
    ) -> float | None:
        """Raise a non-2xx answer's error, or return the ``Retry-After`` its retry waits.

        Raises:
            APIError: The answer deserves no (more) retry: not 429 or 5xx, a 5xx to an upload,
                a ``Retry-After`` over ``max_retry_wait``, or the retries are spent.
        """
        error = api_error(
            resp, scrub=scrub, idempotent=idempotent, info_hash=info_hash, now=self._wall()
        )
        retry_after: float | None = None
        too_long = False
        if isinstance(error, RateLimitError):
            await self._rate_limited(error, endpoint, attempt)
            retry_after = error.retry_after
            too_long = retry_after is not None and retry_after > self._max_retry_wait
        retryable = (resp.status == 429 and not too_long) or (idempotent and resp.status >= 500)
        if not retryable or attempt >= self._max_retries:
            self._stats.endpoints[endpoint].errors += 1
            raise error
        return retry_after


def _closed_in_flight(idempotent: bool, info_hash: str | None) -> ClientStateError:
    """The error of a request the close cut; an upload's outcome is unknown."""
    error = ClientStateError(CLOSED_IN_FLIGHT)
    if not idempotent:
        error.outcome_unknown = True
        error.message += outcome_unknown_note(info_hash)
    return error
