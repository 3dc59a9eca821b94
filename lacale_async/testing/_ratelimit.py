"""Server-side rate limiting: sliding or fixed windows, counted at arrival."""

from __future__ import annotations

import bisect
import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from .._errors import ConfigurationError

__all__ = ["RateLimit", "WindowLimiter", "WindowMode", "retry_after_header"]

_Bucket = TypeVar("_Bucket", bound=Hashable)

WindowMode = Literal["sliding", "fixed"]
"""``"sliding"``: never more than N arrivals in any span of T seconds. ``"fixed"``: at most N
arrivals in each window [kT, (k+1)T) of the clock."""


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``calls`` requests per ``period`` seconds.

    Raises:
        ConfigurationError: ``calls`` < 1 or ``period`` <= 0.
    """

    calls: int
    period: float

    def __post_init__(self) -> None:
        if self.calls < 1 or not self.period > 0:
            raise ConfigurationError(
                f"a rate limit needs calls >= 1 and period > 0, not {self.calls}/{self.period}"
            )


def retry_after_header(seconds: float) -> str:
    """Return the ``Retry-After`` value for a wait: whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(seconds - 1e-9)))


class WindowLimiter:
    """Counts accepted arrivals per bucket and says how long a refused one must wait.

    Refused requests do not count: a client that waits ``Retry-After`` always gets through.
    """

    def __init__(self, mode: WindowMode) -> None:
        if mode not in ("sliding", "fixed"):
            raise ConfigurationError(f"rate limit mode must be 'sliding' or 'fixed', not {mode!r}")
        self.mode: WindowMode = mode
        self._arrivals: dict[Hashable, list[float]] = {}
        self._windows: dict[Hashable, tuple[int, int]] = {}

    def _wait(self, bucket: Hashable, limit: RateLimit, now: float) -> float:
        if self.mode == "fixed":
            index = math.floor(now / limit.period)
            current, count = self._windows.get(bucket, (index, 0))
            if current == index and count >= limit.calls:
                return (index + 1) * limit.period - now
            return 0.0
        arrivals = self._arrivals.get(bucket, [])
        # Arrivals older than one period can never matter again.
        del arrivals[: bisect.bisect_right(arrivals, now - limit.period)]
        recent = arrivals[: bisect.bisect_right(arrivals, now)]
        if len(recent) >= limit.calls:
            # The earliest of the last N arrivals must leave the window (t - T, t].
            return recent[-limit.calls] + limit.period - now
        return 0.0

    def _record(self, bucket: Hashable, limit: RateLimit, now: float) -> None:
        if self.mode == "fixed":
            index = math.floor(now / limit.period)
            current, count = self._windows.get(bucket, (index, 0))
            self._windows[bucket] = (index, count + 1 if current == index else 1)
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
