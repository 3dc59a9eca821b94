"""Client-side rate limiting that never lets a key exceed the tracker's limits.

The tracker counts a request when it *arrives* and answers 429 once a key has sent more than
``N`` requests in a window of ``T`` seconds (30/min on upload, documented as "strict"). A
429 is not free: the request is wasted and repeated abuse can get a key throttled. So the
:class:`WindowLimiter` here is built for one guarantee:

    for every configured ``(N, T)``, no window of length ``T`` ever holds more than ``N``
    requests *as the server sees them*, whether the server counts in sliding or fixed windows,
    while a burst of up to ``N`` requests is still sent at once.

How: a sliding-window log. A request occupies a slot from the moment it is let in until it
is over; while it is in flight its arrival time at the server is unknown, so the slot counts
as "now" for as long as it lasts. When the request is over (the response arrived, so the
server has certainly counted it), the slot's timestamp becomes the exit time, and the slot can
be reused only at ``exit + T + margin``. Whatever the latency, the server's arrival stamp lies
between our entry and our exit, so no server window can hold ``N + 1`` of our requests.

``aiolimiter.AsyncLimiter`` (a leaky bucket) does not give that guarantee: it admits a burst of
``N`` and then keeps leaking, so close to ``2N`` requests land in the first window of ``T``.
A user-supplied one is still accepted, wrapped by :class:`AsyncLimiterAdapter`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Protocol, TypeAlias, runtime_checkable

import aiolimiter

from ._clock import Clock
from ._errors import NOT_SENT, ClientStateError, ConfigurationError
from ._gate import EPSILON
from ._options import check_duration, describe, is_count, is_finite
from ._windowlog import Window, WindowLog

__all__ = [
    "AsyncLimiterAdapter",
    "Rate",
    "RateArg",
    "RateLimiter",
    "WindowLimiter",
    "WindowLog",
    "build_limiter",
    "default_margin",
    "parse_rates",
]

Rate: TypeAlias = tuple[int, float]
"""``(calls, period)``: at most ``calls`` requests in any ``period`` seconds."""


@runtime_checkable
class RateLimiter(Protocol):
    """What the client needs from a rate limiter; implement it to bring your own."""

    def slot(self) -> AbstractAsyncContextManager[None]:
        """Return a context manager around one request.

        Entering waits until one more request may be sent; leaving marks the request as over
        (response received or failure).
        """
        ...

    async def pause(self, seconds: float) -> None:
        """Let nobody in for ``seconds`` from now (a 429's ``Retry-After``), for every caller."""
        ...


RateArg: TypeAlias = Rate | Sequence[Rate] | RateLimiter | aiolimiter.AsyncLimiter | None
"""Everything a client's ``<endpoint>_rate`` option accepts (see :func:`build_limiter`)."""


def default_margin(period: float) -> float:
    """Return the safety margin added to a window of ``period`` seconds.

    Exit-time stamping already covers network latency; the margin only absorbs what is left:
    servers that store timestamps with millisecond or coarser precision, inclusive window
    boundaries (``>=`` instead of ``>``) and timer jitter on either side. 2 % of the window,
    capped at 0.25 s, covers those with room to spare and keeps a long run within 2 % of the
    theoretical throughput (5N requests with T >= 1 s take at most ``4 * 1.02 * T`` plus
    latency); the cap stops a 60 s window from wasting more than a quarter of a second.

    Args:
        period: The window length in seconds.

    Returns:
        The margin in seconds.
    """
    return min(0.02 * period, 0.25)


class _Slot:
    """One request's occupancy of a :class:`WindowLimiter` (entered at most once)."""

    __slots__ = ("_entered", "_limiter")

    def __init__(self, limiter: WindowLimiter) -> None:
        self._limiter = limiter
        self._entered = False

    async def __aenter__(self) -> None:
        if self._entered:
            raise ClientStateError("a rate-limit slot cannot be entered twice")
        await self._limiter.acquire()
        self._entered = True

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Synchronous on purpose: a cancellation here cannot leave the slot occupied.
        # A request that never got a connection (or was refused by the key budget) never
        # reached the server, so it used no budget: give the slot back at once.
        self._limiter.release(counted=exc_type is None or not issubclass(exc_type, NOT_SENT))


class WindowLimiter:
    """The SDK's rate limiter: a sliding-window log honouring every ``(N, T)`` at once.

    Waiters are served first come, first served; a cancelled waiter takes no slot; a
    :meth:`pause` holds back every waiter and new entrant until it ends.

    Args:
        rates: One or more ``(calls, period)`` pairs that must all hold.
        clock: The time source (inject a ``FakeClock`` in tests).
        log: Shared history; pass the same log to share one budget between limiters.
        name: A label for ``repr`` (an endpoint name, never a key).
        margin: Extra seconds added to every window; None for :func:`default_margin`.

    Raises:
        ConfigurationError: A rate, the margin or the name is invalid.
    """

    __slots__ = ("__weakref__", "_clock", "_log", "_name", "_rates")

    def __init__(
        self,
        rates: Sequence[Rate],
        *,
        clock: Clock,
        log: WindowLog | None = None,
        name: str = "",
        margin: float | None = None,
    ) -> None:
        # Checked before it is formatted: f"{name}_rate" of 10**5000 raised a raw ValueError.
        if not isinstance(name, str):
            raise ConfigurationError(f"name must be a string, not {describe(name)}")
        checked = parse_rates(rates, name=f"{name}_rate" if name else "rates")
        if margin is not None and not (is_finite(margin) and margin >= 0):
            raise ConfigurationError(
                f"rate limit margin must be a finite number >= 0, got {describe(margin)}"
            )
        self._rates: tuple[Window, ...] = tuple(
            (n, t, default_margin(t) if margin is None else float(margin)) for n, t in checked
        )
        self._clock = clock
        self._log = WindowLog() if log is None else log
        self._log.register(self._rates, user=self)
        self._name = name

    @property
    def rates(self) -> list[Rate]:
        """The ``(calls, period)`` pairs this limiter enforces."""
        return [(n, t) for n, t, _ in self._rates]

    @property
    def log(self) -> WindowLog:
        """The shared history this limiter reads and writes."""
        return self._log

    def slot(self) -> AbstractAsyncContextManager[None]:
        """Return a context manager holding one request slot while the request runs.

        Returns:
            An async context manager: entering waits for the budget, leaving stamps the exit.
        """
        return _Slot(self)

    async def pause(self, seconds: float) -> None:
        """Let nobody in for ``seconds`` from now; every limiter sharing the log obeys it.

        Args:
            seconds: Pause length; NaN and values ``<= 0`` are ignored.
        """
        if seconds > 0:
            self._log.pause(self._clock.now() + seconds)

    async def acquire(self) -> None:
        """Wait, first come first served, until one more request may enter; enter it.

        Prefer :meth:`slot`, which pairs this with :meth:`release`.
        """
        log = self._log
        clock = self._clock
        await log.wait_turn()
        try:
            while (wait := log.try_admit(clock.now(), self._rates)) is not None:
                if isinstance(wait, float):
                    # The deadline can only move later while we sleep (a pause, never an
                    # earlier exit), so sleeping the full delay never admits too late.
                    await clock.sleep(wait)
                else:
                    await wait  # every slot is taken: the next exit wakes us
        finally:
            log.end_turn()

    def release(self, *, counted: bool = True) -> None:
        """End a request entered by :meth:`acquire`, stamped now.

        Args:
            counted: False when it never reached the server: its slot is given back unspent.
        """
        self._log.release(self._clock.now(), counted=counted)

    def __repr__(self) -> str:
        label = f"name={self._name!r}, " if self._name else ""
        return f"WindowLimiter({label}rates={self.rates!r})"


class AsyncLimiterAdapter:
    """Make a user-supplied ``aiolimiter.AsyncLimiter`` a :class:`RateLimiter`.

    Note that a leaky bucket lets close to ``2N`` requests through in the first window; prefer
    rates (which build a :class:`WindowLimiter`) when the tracker's limit is strict.

    Args:
        limiter: The aiolimiter instance; ``slot()`` acquires one unit of it.
        clock: Used for :meth:`pause`, which aiolimiter has no notion of.
    """

    __slots__ = ("_clock", "_limiter", "_pause_until")

    def __init__(self, limiter: aiolimiter.AsyncLimiter, *, clock: Clock) -> None:
        self._limiter = limiter
        self._clock = clock
        self._pause_until = -math.inf

    @property
    def limiter(self) -> aiolimiter.AsyncLimiter:
        """The wrapped aiolimiter."""
        return self._limiter

    def slot(self) -> AbstractAsyncContextManager[None]:
        """Return a context manager that waits out any pause, then acquires the limiter.

        Returns:
            An async context manager around one request.
        """
        return _AdapterSlot(self)

    async def pause(self, seconds: float) -> None:
        """Let nobody in for ``seconds`` from now.

        Args:
            seconds: Pause length; NaN and values ``<= 0`` are ignored.
        """
        if seconds > 0:
            self._pause_until = max(self._pause_until, self._clock.now() + seconds)

    async def acquire(self) -> None:
        """Wait out any pause, then take one unit of the aiolimiter.

        A pause announced while this caller queued in the bucket still applies to it.
        """
        await self._wait_pause()
        await self._limiter.acquire()
        await self._wait_pause()

    async def _wait_pause(self) -> None:
        while (wait := self._pause_until - self._clock.now()) > EPSILON:
            await self._clock.sleep(wait)

    def __repr__(self) -> str:
        lim = self._limiter
        return f"AsyncLimiterAdapter({lim.max_rate!r}/{lim.time_period!r}s)"


class _AdapterSlot:
    __slots__ = ("_adapter",)

    def __init__(self, adapter: AsyncLimiterAdapter) -> None:
        self._adapter = adapter

    async def __aenter__(self) -> None:
        await self._adapter.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


# More calls than any tracker allows; a bound keeps every message and share arithmetic on
# the count valid (str() and float() of an int of thousands of digits raise).
_MAX_CALLS = 10**9


def _check_rate(rate: object, name: str) -> Rate:
    if not (isinstance(rate, (tuple, list)) and len(rate) == 2):
        raise ConfigurationError(
            f"{name}: a rate limit is a (calls, period_seconds) pair such as (30, 60.0), "
            f"got {describe(rate)}"
        )
    calls, period = rate
    if not (is_count(calls) and calls <= _MAX_CALLS):
        raise ConfigurationError(
            f"{name}: calls must be an int from 1 to {_MAX_CALLS:_}, got {describe(calls)}"
        )
    # At most a year: the budget turns Unix times plus a period into datetimes.
    return (
        calls,
        check_duration(period, f"{name}: period"),
    )


def _check_rates(rates: object, name: str) -> list[Rate]:
    if isinstance(rates, (str, bytes)) or not isinstance(rates, Sequence):
        raise ConfigurationError(
            f"{name}: expected (calls, period_seconds) or a sequence of such pairs, "
            f"got {describe(rates)}"
        )
    checked = [_check_rate(r, name) for r in rates]
    if not checked:
        raise ConfigurationError(f"{name}: at least one (calls, period_seconds) pair is required")
    return checked


def parse_rates(arg: object, *, name: str = "rates") -> list[Rate]:
    """Validate one ``(calls, period)`` rate or a sequence of them.

    Args:
        arg: ``(5, 10.0)`` or ``[(5, 10.0), (30, 60.0)]``.
        name: The option's name, used in error messages.

    Returns:
        The rates as a list of ``(int, float)`` pairs.

    Raises:
        ConfigurationError: ``arg`` is not a rate or sequence of rates, or a rate is invalid
            (calls must be an int from 1 to 10**9, period a number of seconds > 0
            and at most a year).
    """
    single = (
        isinstance(arg, tuple)
        and len(arg) == 2
        and not isinstance(arg[0], (tuple, list))
        and not isinstance(arg[1], (tuple, list))
    )
    return _check_rates([arg] if single else arg, name)


def build_limiter(
    arg: RateArg,
    *,
    clock: Clock,
    log: WindowLog | None = None,
    name: str = "",
) -> RateLimiter | None:
    """Turn a client's ``<endpoint>_rate`` option into a :class:`RateLimiter`.

    Args:
        arg: None (no limiting), one ``(calls, period)`` rate, a sequence of rates (all must
            hold), an ``aiolimiter.AsyncLimiter`` (wrapped), or any :class:`RateLimiter`
            (used as is).
        clock: The time source for the limiter.
        log: Shared history for a :class:`WindowLimiter` (see :class:`WindowLog`).
        name: A label for ``repr``.

    Returns:
        The limiter, or None when ``arg`` is None.

    Raises:
        ConfigurationError: ``arg`` is none of the accepted forms or holds an invalid rate.
    """
    if arg is None:
        return None
    if isinstance(arg, aiolimiter.AsyncLimiter):
        return AsyncLimiterAdapter(arg, clock=clock)
    if isinstance(arg, RateLimiter):
        return arg
    rates = parse_rates(arg, name=f"{name}_rate" if name else "rates")
    return WindowLimiter(rates, clock=clock, log=log, name=name)
