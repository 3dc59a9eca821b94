"""When to retry a request, and how long to wait first."""

from __future__ import annotations

import random
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

__all__ = ["Backoff", "parse_retry_after"]

_MAX_EXPONENT = 64


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Read a ``Retry-After`` header, in seconds from now.

    Args:
        value: The header value: delta-seconds or an HTTP date, or None.
        now: The current wall-clock time for HTTP dates (the client passes its clock's);
            None reads the system's.

    Returns:
        Seconds to wait (0 for a date in the past), or None when absent or unreadable.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        # "inf"/"nan" parse as floats but are not delta-seconds.
        return max(0.0, seconds) if seconds == seconds and seconds != float("inf") else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    current = now or datetime.now(timezone.utc)
    return max(0.0, (when - current).total_seconds())


class Backoff:
    """Exponential backoff with full jitter, capped.

    Args:
        base: Delay scale of the first retry, in seconds.
        cap: Largest delay ever returned, in seconds.
        rng: Source of jitter; tests pass a seeded ``random.Random``.
    """

    __slots__ = ("base", "cap", "rng")

    def __init__(
        self, base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None
    ) -> None:
        self.base = base
        self.cap = cap
        self.rng = rng or random.Random()

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Return the wait before retry number ``attempt`` (0 for the first retry).

        A server's ``Retry-After`` wins over the computed delay: it knows when its window
        reopens. Otherwise the delay is drawn from [d/2, d] with d = base * 2**attempt, so a
        crowd of callers that failed together does not retry together.
        """
        if retry_after is not None:
            return retry_after
        # 2.0**1024 overflows a float: past _MAX_EXPONENT doublings every delay is at the cap
        # anyway (0.5 s * 2**64 is centuries), so any max_retries is safe.
        ceiling = min(self.cap, self.base * 2.0 ** min(attempt, _MAX_EXPONENT))
        return ceiling / 2 + self.rng.random() * ceiling / 2
