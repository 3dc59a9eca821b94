"""Sending one call: through the endpoint's limiter, retrying only what is safe to retry."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import aiohttp

from ._clock import Clock
from ._errors import ConnectError, RateLimitError, TransportError
from ._limiter import RateLimiter
from ._responses import Scrub, api_error, outcome_unknown_note
from ._retry import Backoff
from ._stats import StatsRecorder
from ._transport import NO_PARAMS, Params, Response, Transport

__all__ = ["Sender"]

logger = logging.getLogger("lacale_async")


class Sender:
    """Sends requests for one open client.

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
    """

    __slots__ = (
        "_backoff",
        "_clock",
        "_limiters",
        "_max_retries",
        "_max_retry_wait",
        "_scrub",
        "_stats",
        "_transport",
    )

    def __init__(
        self,
        *,
        transport: Transport,
        limiters: Mapping[str, RateLimiter | None],
        stats: StatsRecorder,
        clock: Clock,
        backoff: Backoff,
        max_retries: int,
        max_retry_wait: float,
        scrub: Scrub,
    ) -> None:
        self._transport = transport
        self._limiters = limiters
        self._stats = stats
        self._clock = clock
        self._backoff = backoff
        self._max_retries = max_retries
        self._max_retry_wait = max_retry_wait
        self._scrub = scrub

    @property
    def transport(self) -> Transport:
        """The transport requests go through."""
        return self._transport

    async def send(
        self,
        endpoint: str,
        method: str,
        path: str,
        *,
        params: Params = NO_PARAMS,
        form: Callable[[], aiohttp.FormData] | None = None,
        idempotent: bool = True,
        info_hash: str | None = None,
        authenticate: bool = True,
    ) -> Response:
        """Send a request through ``endpoint``'s limiter and return its 2xx answer.

        ``authenticate=False`` leaves the key off (a download link carries its own token).

        Raises:
            APIError: A non-2xx answer, after the retries it deserved.
            TransportError: The request failed, after the retries it deserved.
        """
        transport = self._transport
        limiter = self._limiters[endpoint]
        counters = self._stats.endpoints[endpoint]
        clock = self._clock
        attempt = 0
        while True:
            retry_after: float | None = None
            try:
                if limiter is None:
                    counters.requests += 1
                    resp = await transport.request(
                        method, path, params=params, form=form, authenticate=authenticate
                    )
                else:
                    started = clock.now()
                    async with limiter.slot():
                        waited = clock.now() - started
                        counters.limiter_wait += waited
                        if waited > 0.001:
                            logger.debug("%s waited %.3f s for its rate limiter", endpoint, waited)
                        counters.requests += 1
                        resp = await transport.request(
                            method, path, params=params, form=form, authenticate=authenticate
                        )
            except ConnectError:
                if attempt >= self._max_retries:
                    counters.errors += 1
                    raise
            except TransportError as exc:
                if not idempotent:
                    counters.errors += 1
                    exc.outcome_unknown = True
                    exc.message += outcome_unknown_note(info_hash)
                    raise
                if attempt >= self._max_retries:
                    counters.errors += 1
                    raise
            else:
                if resp.status < 300:
                    return resp
                error = api_error(
                    resp, scrub=self._scrub, idempotent=idempotent, info_hash=info_hash
                )
                if isinstance(error, RateLimitError):
                    counters.rate_limited += 1
                    retry_after = error.retry_after
                    pause = retry_after if retry_after is not None else self._backoff.delay(attempt)
                    if limiter is not None:
                        # Everyone queued on this endpoint waits, not only this caller; never
                        # longer than max_retry_wait, or one 429 could stall the client for days.
                        await limiter.pause(min(pause, self._max_retry_wait))
                    if retry_after is not None and retry_after > self._max_retry_wait:
                        counters.errors += 1
                        raise error
                retryable = resp.status == 429 or (idempotent and resp.status >= 500)
                if not retryable or attempt >= self._max_retries:
                    counters.errors += 1
                    raise error
            delay = self._backoff.delay(attempt, retry_after)
            attempt += 1
            counters.retries += 1
            logger.debug("%s: retry %d in %.2f s", endpoint, attempt, delay)
            if not (limiter is not None and retry_after is not None):
                # With a limiter the pause above already holds the next attempt back.
                await clock.sleep(delay)
