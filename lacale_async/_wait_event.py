"""Seeing waits as they happen: which limit holds a call back, and for how long.

A client given ``on_wait`` calls it when a request starts waiting for one of its limits (its
endpoint's limiter, then the key-wide budget) and again when that wait ends. Every request
passes its limits, so a wait of no time at all is reported too (its end follows at once).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Literal, Protocol, runtime_checkable

import msgspec

from ._clock import Clock
from ._endpoints import Endpoint
from ._limiter import Rate, RateLimiter

__all__ = ["OnWait", "WaitEvent", "WaitReporter"]

logger = logging.getLogger("lacale_async")


class WaitEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A request starting or ending a wait for a rate limit (``LaCaleClient(on_wait=...)``).

    Attributes:
        endpoint: The waiting request's endpoint: ``search``, ``meta``, ``upload`` or
            ``download``.
        limit: What holds it back: ``"endpoint"`` (that endpoint's limiter) or ``"key"`` (the
            key-wide budget, shared by every endpoint).
        rates: That limit's ``(calls, period)`` windows (empty for a limiter object whose
            windows the client cannot read).
        ended: False when the wait starts; True when it ends (the request got its turn, or
            gave up).
        waited: Seconds waited, on the client's clock (0.0 when it starts).
    """

    endpoint: str
    limit: Literal["endpoint", "key"]
    rates: tuple[Rate, ...] = ()
    ended: bool = False
    waited: float = 0.0


OnWait = Callable[[WaitEvent], None]
"""The ``on_wait`` option: called from the event loop, it should return quickly."""


@runtime_checkable
class _Windowed(Protocol):
    """A limiter that says its windows (the SDK's and the fleet's do; aiolimiter's does not)."""

    @property
    def rates(self) -> list[Rate]: ...


class WaitReporter:
    """Reports one client's waits to its ``on_wait``; a callback that raises is only logged.

    Args:
        on_wait: The user's callback.
        clock: The client's clock, which measures the waits.
        rates: The windows of each endpoint's limiter, and of the key budget under ``None``.
    """

    __slots__ = ("_clock", "_on_wait", "_rates")

    def __init__(
        self, on_wait: OnWait, clock: Clock, rates: Mapping[Endpoint | None, tuple[Rate, ...]]
    ) -> None:
        self._on_wait = on_wait
        self._clock = clock
        self._rates = rates

    @classmethod
    def of(
        cls,
        on_wait: OnWait,
        clock: Clock,
        limiters: Mapping[Endpoint, RateLimiter | None],
        key_rates: Sequence[Rate] | None,
    ) -> WaitReporter:
        """Return the reporter for a client's limiters and key budget (None: no budget)."""
        rates: dict[Endpoint | None, tuple[Rate, ...]] = {}
        for endpoint, limiter in limiters.items():
            if isinstance(limiter, _Windowed):
                rates[endpoint] = tuple(limiter.rates)
        if key_rates is not None:
            rates[None] = tuple(key_rates)
        return cls(on_wait, clock, rates)

    async def enter(
        self, slot: AbstractAsyncContextManager[None], endpoint: Endpoint, key: bool
    ) -> None:
        """Enter ``slot`` (a limiter slot, or a key-budget unit when ``key``), telling the wait."""
        clock = self._clock
        limit: Literal["endpoint", "key"] = "key" if key else "endpoint"
        rates = self._rates.get(None if key else endpoint, ())
        started = clock.now()
        self._tell(WaitEvent(endpoint=endpoint, limit=limit, rates=rates))
        try:
            await slot.__aenter__()
        except BaseException:
            self._tell_end(endpoint, limit, rates, started)
            raise
        try:
            self._tell_end(endpoint, limit, rates, started)
        except BaseException as exc:
            # The callback raised what is not ignored (KeyboardInterrupt, SystemExit): the
            # slot was entered, so it is left here, or it would stay taken for good.
            await slot.__aexit__(type(exc), exc, exc.__traceback__)
            raise

    def _tell_end(
        self,
        endpoint: Endpoint,
        limit: Literal["endpoint", "key"],
        rates: tuple[Rate, ...],
        started: float,
    ) -> None:
        waited = self._clock.now() - started
        self._tell(
            WaitEvent(endpoint=endpoint, limit=limit, rates=rates, ended=True, waited=waited)
        )

    def _tell(self, event: WaitEvent) -> None:
        try:
            self._on_wait(event)
        except Exception as exc:  # observing must never fail a request
            logger.warning("on_wait raised %s: %s; ignored", type(exc).__name__, exc)
