"""Server-side rate limiting: sliding or fixed windows, counted at arrival."""

from __future__ import annotations

import bisect
import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from .._errors import ConfigurationError
from .._limiter import parse_rates
from .._options import describe

__all__ = ["RateLimit", "WindowLimiter", "WindowMode", "retry_after_header"]

_Bucket = TypeVar("_Bucket", bound=Hashable)

WindowMode = Literal["sliding", "fixed"]
"""``"sliding"``: never more than N arrivals in any span of T seconds. ``"fixed"``: at most N
arrivals in each window [kT, (k+1)T) of the clock."""


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``calls`` requests per ``period`` seconds.

    Raises:
        ConfigurationError: ``calls`` is not an int from 1 to 10**9, or ``period`` not a
            number of seconds > 0 and at most a year (the client's own rate check).
    """

    calls: int
    period: float

    def __post_init__(self) -> None:
        # The client's check: RateLimit("5", 1) raised a raw TypeError, and an inf period or a
        # huge count would reach the client through client_rates() anyway.
        parse_rates([(self.calls, self.period)], name="RateLimit")


def retry_after_header(seconds: float) -> str:
    """Return the ``Retry-After`` value for a wait: whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(seconds - 1e-9)))


# How long past a window's end its arrivals are still remembered. The middleware counts a
# request when it arrives, but a v1 upload carrying its key in the form is only counted once
# its body has been read: it may be handled after later arrivals, yet must still be counted
# at its own arrival time.
_RETAIN = 60.0


class WindowLimiter:
    """Counts accepted arrivals per bucket and says how long a refused one must wait.

    Refused requests do not count: a client that waits ``Retry-After`` always gets through.
    Arrivals may be presented out of order: every decision is taken at the arrival's own
    time against every arrival already counted, earlier or later.
    """

    def __init__(self, mode: WindowMode) -> None:
        if mode not in ("sliding", "fixed"):
            raise ConfigurationError(
                f"rate limit mode must be 'sliding' or 'fixed', not {describe(mode)}"
            )
        self.mode: WindowMode = mode
        self._arrivals: dict[Hashable, list[float]] = {}
        # Fixed mode: accepted arrivals per window index, for every window still remembered.
        self._windows: dict[Hashable, dict[int, int]] = {}

    def _wait(self, bucket: Hashable, limit: RateLimit, now: float) -> float:
        if self.mode == "fixed":
            index = math.floor(now / limit.period)
            counts = self._windows.get(bucket, {})
            if counts.get(index, 0) >= limit.calls:
                return (index + 1) * limit.period - now
            return 0.0
        arrivals = self._arrivals.get(bucket, [])
        # Arrivals this old cannot share a window with this one nor with any late one.
        del arrivals[: bisect.bisect_right(arrivals, now - limit.period - _RETAIN)]
        admit_at = now
        while True:
            earliest = _earliest_admission(arrivals, limit, admit_at)
            if earliest == admit_at:
                return admit_at - now
            admit_at = earliest

    def _record(self, bucket: Hashable, limit: RateLimit, now: float) -> None:
        if self.mode == "fixed":
            index = math.floor(now / limit.period)
            counts = self._windows.setdefault(bucket, {})
            counts[index] = counts.get(index, 0) + 1
            oldest = math.floor((now - limit.period - _RETAIN) / limit.period)
            for stale in [i for i in counts if i < oldest]:
                del counts[stale]
        else:
            bisect.insort(self._arrivals.setdefault(bucket, []), now)

    def acquire(
        self, checks: Sequence[tuple[_Bucket, RateLimit]], now: float
    ) -> tuple[_Bucket, float] | None:
        """Admit one arrival in every bucket, or in none.

        Args:
            checks: ``(bucket, limit)`` pairs, such as the client IP's and the key's.
            now: The arrival time on the sandbox clock.

        Returns:
            None when admitted (counted in every bucket); else the most constrained bucket
            and the seconds until it admits a request (nothing is counted).
        """
        refused: tuple[_Bucket, float] | None = None
        for bucket, limit in checks:
            wait = self._wait(bucket, limit, now)
            if wait > 0 and (refused is None or wait > refused[1]):
                refused = (bucket, wait)
        if refused is None:
            for bucket, limit in checks:
                self._record(bucket, limit, now)
        return refused

    def reset(self) -> None:
        """Forget every arrival."""
        self._arrivals.clear()
        self._windows.clear()


def _earliest_admission(arrivals: list[float], limit: RateLimit, t: float) -> float:
    """Return ``t`` when an arrival at ``t`` fits, else a later time no arrival before fits.

    An arrival at ``t`` is refused when it would make ``calls + 1`` arrivals, itself included,
    span less than ``period``: these are the runs of ``calls`` counted arrivals around ``t``.
    """
    n, period = limit.calls, limit.period
    i = bisect.bisect_right(arrivals, t)
    later = t
    for before in range(n + 1):
        after = n - before
        if before > i or i + after > len(arrivals):
            continue
        first = arrivals[i - before] if before else t
        last = arrivals[i + after - 1] if after else t
        if last - first < period:
            # Until ``first`` leaves (or ``t`` passes ``last``), this run stays too dense.
            later = max(later, first + period if before else last)
    return later
