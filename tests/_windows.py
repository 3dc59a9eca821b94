"""What every rate-limit test checks: the most events in any window of a given length."""

from __future__ import annotations

from collections.abc import Iterable


def max_in_window(times: Iterable[float], period: float) -> int:
    """Return the most events in any half-open window [t, t + period), over every start t.

    Checking every window (not fixed ones) is the strictest reading: a sliding-window server
    and a fixed-window server both answer 429 only when this exceeds their limit.
    """
    ordered = sorted(times)
    best = 0
    lo = 0
    for hi, t in enumerate(ordered):
        while t - ordered[lo] >= period:
            lo += 1
        best = max(best, hi - lo + 1)
    return best
