"""The key-wide budget's public face: its defaults, options, snapshot structs and messages."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Literal, TypeAlias

import msgspec

from ._errors import ConfigurationError
from ._files import check_path, expand_home
from ._limiter import Rate, parse_rates
from ._options import describe

__all__ = [
    "DEFAULT_KEY_RATE",
    "KeyRateArg",
    "OnQuota",
    "Quota",
    "QuotaStoreArg",
    "QuotaWindow",
    "describe_wait",
    "describe_window",
    "resolve_key_rate",
    "resolve_quota_store",
    "utc",
]

DEFAULT_KEY_RATE: list[Rate] = [(60, 60.0), (200, 86_400.0)]
"""Since early 2026 the tracker is reported to allow each API key about 200 requests a day, in
bursts of at most 60 a minute (Jackett pull request #16552, "lacale-api: migrate from passkey
to apikey", 2026-02-05; the current Jackett definition waits 5 s between requests for it).
Not in the API documentation: live behaviour, recorded by peers."""

KeyRateArg: TypeAlias = Rate | Sequence[Rate] | None
"""``key_rate``: one ``(calls, period)``, several that must all hold, or None for no budget."""

QuotaStoreArg: TypeAlias = str | os.PathLike[str] | None
"""``quota_store``: a file path, ``"auto"`` (the user's cache folder) or None (memory only).

``"memory"`` (also ``"none"``, ``"off"``, any case) means None, as in ``LACALE_QUOTA_STORE``.
"""

_IN_MEMORY = frozenset({"memory", "none", "off"})

OnQuota = Literal["raise", "wait"]
"""What a spent key budget does: raise :class:`QuotaExceededError` at once, or wait a while."""


class QuotaWindow(msgspec.Struct, frozen=True, kw_only=True):
    """One key-wide window of a :class:`Quota`.

    Attributes:
        calls: Requests allowed in the window.
        period: The window's length in seconds.
        used: Requests counted in it now (in flight included), every client of the store.
        remaining: ``calls - used``, never below 0.
        next_free_at: When the oldest counted request leaves the window (aware UTC datetime),
            or None when it is empty.
    """

    calls: int
    period: float
    used: int
    remaining: int
    next_free_at: datetime | None


class Quota(msgspec.Struct, frozen=True, kw_only=True):
    """The key-wide budget now (``await client.quota()``).

    Attributes:
        remaining: Requests that may still go now under every key window (0 while paused);
            None when the client has no key budget (``key_rate=None``).
        windows: Each key window's usage, in the order configured.
        next_free_in: Seconds until one request may go (0 when one may go now).
        paused_until: End of a pause set by an unexpected 429, or None.
        store: Where the budget is kept: ``"memory"``, a file path, or a Redis address.
        at: When this snapshot was taken (aware UTC datetime, the budget's clock).
    """

    remaining: int | None
    at: datetime
    windows: tuple[QuotaWindow, ...] = ()
    next_free_in: float = 0.0
    paused_until: datetime | None = None
    store: str = "memory"

    @property
    def next_free_at(self) -> datetime | None:
        """When one request may go, or None when one may go now (or there is no budget)."""
        if self.next_free_in <= 0:
            return None
        return self.at + timedelta(seconds=self.next_free_in)


def utc(timestamp: float) -> datetime:
    """Return Unix seconds as an aware UTC datetime."""
    return datetime.fromtimestamp(timestamp, timezone.utc)


def describe_wait(seconds: float) -> str:
    """Return a duration for people: ``45 s``, ``12 min``, ``3 h 05 min``."""
    if not math.isfinite(seconds):
        return "an unknown time"  # a message about a wait never fails for want of one
    if seconds < 90:
        return f"{max(seconds, 0):.0f} s"
    minutes = math.ceil(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def describe_window(calls: int, period: float) -> str:
    """Return a window for people: ``200 per 24 h``, ``60 per 60 s``."""
    if period >= 3600 and period % 3600 == 0:
        return f"{calls} per {period / 3600:g} h"
    return f"{calls} per {period:g} s"


def _parse_env_rate(text: str) -> list[Rate] | None:
    if text.strip().lower() in ("", "none", "off", "0"):
        return None
    rates: list[Rate] = []
    for part in text.split(","):
        calls, sep, period = part.strip().partition("/")
        try:
            rates.append((int(calls), float(period if sep else "nan")))
        except ValueError:
            rates.append((0, 0.0))  # reported below with the whole variable
    try:
        return parse_rates(rates, name="LACALE_KEY_RATE")
    except ConfigurationError:
        raise ConfigurationError(
            "LACALE_KEY_RATE must look like '60/60,200/86400' (calls/seconds pairs, calls an "
            f"int from 1 to 10**9, seconds > 0 and at most a year) or 'off', got {describe(text)}"
        ) from None


def resolve_key_rate(arg: object, *, is_default: bool) -> list[Rate] | None:
    """Validate ``key_rate``; the default reads ``LACALE_KEY_RATE`` when it is set.

    Raises:
        ConfigurationError: Not a rate, a sequence of rates or None; a bad variable.
    """
    if is_default and "LACALE_KEY_RATE" in os.environ:
        return _parse_env_rate(os.environ["LACALE_KEY_RATE"])
    if arg is None:
        return None
    return parse_rates(arg, name="key_rate")


def resolve_quota_store(arg: object, *, auto: Callable[[], Path]) -> Path | None:
    """Turn ``quota_store`` into a file path or None; ``"auto"`` reads ``LACALE_QUOTA_STORE``.

    Args:
        arg: A path, ``"auto"``, None or ``"memory"``.
        auto: Gives the path ``"auto"`` means when the variable is not set (in
            ``LACALE_CACHE_DIR`` when that is set); called only then, so a bad
            ``LACALE_CACHE_DIR`` never stops a client that keeps its budget elsewhere.

    Raises:
        ConfigurationError: Neither a path, ``"auto"`` nor None; or a path (given, or from
            one of the variables) holding a NUL or a lone surrogate, which no file can have.
    """
    name = "quota_store"
    if arg == "auto":
        arg = os.environ.get("LACALE_QUOTA_STORE") or "auto"
        name = "LACALE_QUOTA_STORE"
        if arg == "auto":
            name = "LACALE_CACHE_DIR" if os.environ.get("LACALE_CACHE_DIR") else "quota_store"
            arg = auto()
    # The words the variable needs, taken from the argument too: quota_store="memory" (what
    # Quota.store reports) once made a file named "memory" in the working folder.
    if arg is None or (isinstance(arg, str) and arg.lower() in _IN_MEMORY):
        return None
    if isinstance(arg, (str, os.PathLike)) and os.fspath(arg):
        return expand_home(check_path(arg, name, ConfigurationError), name, ConfigurationError)
    raise ConfigurationError(
        f"quota_store must be a file path, 'auto' or None, not {describe(arg)}"
    )
