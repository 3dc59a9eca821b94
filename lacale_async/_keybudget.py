"""``KeyBudget``: the key-wide budget every request attempt spends, on top of endpoint limits.

Every attempt that reaches the network (retries, uploads, downloads included) takes one unit
inside the Sender, right after its endpoint slot and right before it is sent; a refused
connection gives its unit back. The windows come in two kinds, told apart by their length:

* *burst* windows (period at most ``max_quota_wait``; the 60 per minute) are waited out, as the
  endpoint limiters are;
* *quota* windows (longer; the 200 per day) are not: with ``on_quota="raise"`` a spent one
  raises :class:`QuotaExceededError` before anything is sent; with ``"wait"`` the request waits
  when the unit frees up within ``max_quota_wait`` seconds, and raises beyond.

A pause set by an unexpected 429 is waited out up to ``max_retry_wait`` (as today's endpoint
pauses are), and beyond counts as a spent quota.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from functools import partial
from types import TracebackType

from ._clock import Clock
from ._errors import NOT_SENT, ClientStateError, QuotaExceededError
from ._ledger import PAUSE, Grant, Ledger, Refusal, Span
from ._limiter import Rate, default_margin
from ._quota import (
    OnQuota,
    Quota,
    QuotaWindow,
    describe_wait,
    describe_window,
    utc,
)
from ._stats import KeyCounters
from ._wording import Names, Worded

__all__ = ["KeyBudget"]

logger = logging.getLogger("lacale_async")

# The longest pause one 429 may impose (a Retry-After of years would lock the key for good).
_MAX_PAUSE = 7 * 86_400.0


def _name(names: Names, setting: str) -> str:
    return names.name(setting)


def _paused_text(names: Names, when: str) -> str:
    return (
        "the key-wide budget is paused: the tracker answered 429 although the budget "
        "allowed the request, so its real budget for this key is smaller than "
        f"{names.name('key_rate')}; the next request may go {when}"
    )


def _spent_text(
    names: Names, used: int, calls: int, period: float, where: str, when: str, waits: bool
) -> str:
    waiting = f" (more than {names.name('max_quota_wait')})" if waits else ""
    return (
        f"the key-wide budget is spent: {used} of {calls} requests used in the last "
        f"{describe_wait(period)} ({names.name('key_rate')} {describe_window(calls, period)}, "
        f"kept in {where}); the next one frees up {when}{waiting}; nothing was sent"
    )


class KeyBudget:
    """One client's view of its key's budget: the windows, the policy, and the shared ledger.

    Args:
        ledger: Where the units live (shared by every client of the key in the process).
        rates: The key windows (``key_rate``).
        clock: Waits and the time spent waiting.
        on_quota: ``"raise"`` or ``"wait"`` (see the module docstring).
        max_quota_wait: Longest wait for a quota window; also the burst/quota boundary.
        max_retry_wait: Longest 429 pause waited out as a burst.
        lease: Seconds a unit in flight may last before a store counts it as done.
        stats: Where this client's counters go.
    """

    __slots__ = (
        "__weakref__",
        "_clock",
        "_lease",
        "_ledger",
        "_max_quota_wait",
        "_max_retry_wait",
        "_on_quota",
        "_spans",
        "_stats",
    )

    def __init__(
        self,
        ledger: Ledger,
        *,
        rates: Sequence[Rate],
        clock: Clock,
        on_quota: OnQuota,
        max_quota_wait: float,
        max_retry_wait: float,
        lease: float,
        stats: KeyCounters,
    ) -> None:
        self._ledger = ledger
        ledger.attach(self)
        self._spans: list[Span] = [(n, t, t + default_margin(t)) for n, t in rates]
        self._clock = clock
        self._on_quota: OnQuota = on_quota
        self._max_quota_wait = max_quota_wait
        self._max_retry_wait = max_retry_wait
        self._lease = lease
        self._stats = stats

    @property
    def rates(self) -> list[Rate]:
        """The key windows."""
        return [(n, t) for n, t, _ in self._spans]

    @property
    def where(self) -> str:
        """Where the units are kept."""
        return self._ledger.where

    def slot(self) -> AbstractAsyncContextManager[None]:
        """Return a context manager holding one unit while one attempt runs.

        Entering waits (burst windows, short pauses) or raises :class:`QuotaExceededError`
        before anything is sent; leaving stamps the exit, or gives the unit back when the
        attempt never left (:data:`NOT_SENT`).
        """
        return _BudgetSlot(self)

    def _check(self, refusal: Refusal, waited: float) -> None:
        span = self._spans[refusal.binding][2] if refusal.binding != PAUSE else 0.0
        bound = refusal.wait if refusal.wait is not None else span
        if self._refuses(refusal, bound, waited):
            raise self.exceeded(refusal, bound)

    def _refuses(self, refusal: Refusal, bound: float, waited: float) -> bool:
        """Whether ``refusal`` (``bound`` s to go, ``waited`` s so far) is an error, not a wait."""
        if refusal.binding == PAUSE:
            quota = bound > self._max_retry_wait
        else:
            quota = self._spans[refusal.binding][1] > self._max_quota_wait
        if not quota:
            return False
        return not (self._on_quota == "wait" and waited + bound <= self._max_quota_wait)

    def pause_refusal(self, seconds: float, now: float) -> Callable[[], QuotaExceededError] | None:
        """Return what a request meets now from a 429 pause with ``seconds`` left.

        ``search_many`` plans with it: a pause a request would wait out holds no batch back.

        Args:
            seconds: What is left of the pause.
            now: The time of the decision (Unix seconds).

        Returns:
            None when a request waits the pause out, else what builds its error (one per
            caller, each with its own traceback).
        """
        refusal = Refusal(wait=seconds, binding=PAUSE, used=0, now=now)
        if not self._refuses(refusal, seconds, 0.0):
            return None
        return partial(self.exceeded, refusal, seconds)

    def exceeded(self, refusal: Refusal, bound: float) -> QuotaExceededError:
        """Return the error for a spent budget (``bound``: seconds until a unit frees)."""
        retry_at = utc(refusal.now + bound)
        when = f"in {describe_wait(bound)}, at {retry_at:%Y-%m-%d %H:%M:%S} UTC"
        if refusal.binding == PAUSE:
            paused = Worded(_paused_text, when)
            return QuotaExceededError(
                str(paused), wording=paused, retry_after=bound, retry_at=retry_at
            )
        calls, period, _ = self._spans[refusal.binding]
        spent = (refusal.used, calls, period, self._ledger.where, when, self._on_quota == "wait")
        wording = Worded(_spent_text, *spent)
        return QuotaExceededError(
            str(wording),
            wording=wording,
            retry_after=bound,
            retry_at=retry_at,
            window=(calls, period),
            used=refusal.used,
        )

    async def _sleep(self, refusal: Refusal) -> None:
        clock = self._clock
        if refusal.wait is not None:
            await clock.sleep(refusal.wait)
            return
        exited, poll = refusal.exited, refusal.poll
        if exited is None:
            await clock.sleep(poll if poll is not None else self._spans[refusal.binding][2])
        elif poll is None:
            await exited
        else:
            sleeper = asyncio.ensure_future(clock.sleep(poll))
            try:
                await asyncio.wait((exited, sleeper), return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()

    async def acquire(self) -> Grant:
        """Wait for one unit (FIFO among this process's callers) and take it.

        Raises:
            QuotaExceededError: A quota window or a long pause holds it back.
        """
        ledger, clock, stats = self._ledger, self._clock, self._stats
        started = clock.now()
        await ledger.gate.enter()
        try:
            while True:
                result = await ledger.take(self._spans, self._lease)
                if isinstance(result, Grant):
                    stats.requests += 1
                    return result
                self._check(result, clock.now() - started)
                await self._sleep(result)
        except QuotaExceededError:
            stats.refused += 1
            raise
        finally:
            ledger.gate.leave()
            stats.wait += clock.now() - started

    async def aclose(self) -> None:
        """Let the ledger go (its client closed): a store's worker thread ends with its users."""
        await self._ledger.detach(self)

    async def release(self, grant: Grant, *, counted: bool) -> None:
        """End a unit taken by :meth:`acquire`."""
        if not counted:
            self._stats.requests -= 1
        await self._ledger.give_back(grant, counted=counted)

    async def unexpected_429(self, seconds: float, endpoint: str) -> None:
        """Pause the whole key for ``seconds``: the tracker refused what the budget allowed.

        Args:
            seconds: The 429's ``Retry-After`` (or the backoff delay without one).
            endpoint: The endpoint that got the 429, for the warning.
        """
        self._stats.unexpected_429 += 1
        seconds = min(max(seconds, 0.0), _MAX_PAUSE)
        if await self._ledger.pause(seconds):
            return  # already paused: the first 429 of the episode said it
        kept = "" if self.where.startswith("memory") else f", kept in {self.where}"
        # The setting as Worded arguments: the command's log handler names its own.
        rate = Worded(_name, "key_rate")
        logger.warning(
            "the tracker answered 429 to a %s request although the key-wide budget (%s) allowed "
            "it: its real budget for this key is smaller than %s, or another program "
            "spends it too. Every request of this key now waits %s%s; lower %s",
            endpoint,
            ", ".join(describe_window(n, t) for n, t, _ in self._spans),
            rate,
            describe_wait(seconds),
            kept,
            rate,
        )

    async def quota(self) -> Quota:
        """Return the budget now, every client of the ledger counted."""
        usage = await self._ledger.usage(self._spans)
        windows = tuple(
            QuotaWindow(
                calls=calls,
                period=period,
                used=used,
                remaining=max(0, calls - used),
                next_free_at=utc(frees) if frees is not None else None,
            )
            for (calls, period, _), (used, frees) in zip(self._spans, usage.windows, strict=True)
        )
        paused = usage.pause_until > usage.now
        return Quota(
            remaining=0 if paused else min((w.remaining for w in windows), default=0),
            at=utc(usage.now),
            windows=windows,
            next_free_in=usage.free_in,
            paused_until=utc(usage.pause_until) if paused else None,
            store=self.where,
        )

    def quota_windows(self) -> list[int]:
        """Indexes of the quota (long) windows, which ``search_many`` plans around."""
        return [i for i, (_, t, _) in enumerate(self._spans) if t > self._max_quota_wait]

    def __repr__(self) -> str:
        return f"KeyBudget(rates={self.rates!r}, store={self.where!r})"


class _BudgetSlot:
    """One attempt's unit of a :class:`KeyBudget` (entered at most once)."""

    __slots__ = ("_budget", "_grant")

    def __init__(self, budget: KeyBudget) -> None:
        self._budget = budget
        self._grant: Grant | None = None

    async def __aenter__(self) -> None:
        if self._grant is not None:
            raise ClientStateError("a key-budget slot cannot be entered twice")
        self._grant = await self._budget.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        grant = self._grant
        if grant is not None:
            counted = exc_type is None or not issubclass(exc_type, NOT_SENT)
            await self._budget.release(grant, counted=counted)
