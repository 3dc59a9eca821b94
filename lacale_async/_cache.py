"""Response caching: the :class:`Cache` seam, an in-memory TTL + LRU cache, HTTP freshness."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from ._clock import Clock
from ._errors import ConfigurationError
from ._options import check_implements, describe, is_count

__all__ = ["NO_READS", "Cache", "MemoryCache", "Reads", "ttl_from_headers"]

V = TypeVar("V")

Reads = tuple[Callable[[str], tuple[float, V] | None], Callable[[str], None], Callable[[], float]]
"""``(lookup, touch, now)``: see :meth:`MemoryCache.reads`."""

_EMPTY: dict[str, Any] = {}
NO_READS: Reads[Any] = (_EMPTY.get, _EMPTY.__delitem__, float)
"""The reads of a cache that holds nothing: ``lookup`` finds nothing, so nothing else runs."""


@runtime_checkable
class Cache(Protocol[V]):
    """Where the client keeps decoded answers; implement it to plug in a shared store."""

    async def get(self, key: str) -> V | None:
        """Return the live value stored under ``key``, or None."""
        ...

    async def set(self, key: str, value: V, ttl: float) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds (``ttl <= 0``: do not store)."""
        ...

    async def delete(self, key: str) -> None:
        """Forget ``key`` (no error when absent)."""
        ...

    async def clear(self) -> None:
        """Forget everything."""
        ...

    def fill(self, key: str) -> AbstractAsyncContextManager[V | None]:
        """Coordinate who fetches a missing ``key`` across processes sharing this cache.

        Entered by the one task per process that is about to fetch ``key``. A shared cache
        takes a lock so that only one process fetches; the others wait while its holder is
        alive and get the value it stored, which the context yields (skip the fetch then).
        Yielding None means: fetch, then :meth:`set`. An in-process cache yields None at
        once, since the client already lets concurrent identical calls share one request.
        The client does not use it for ``cache="refresh"``, which must always fetch.
        """
        ...


@asynccontextmanager
async def _no_coordination() -> AsyncIterator[None]:
    yield None


class MemoryCache(Generic[V]):
    """An in-process cache with a time-to-live per entry and a least-recently-used bound.

    Values are stored and returned as given (no copy, no re-encoding), so a hit costs one dict
    lookup and one clock reading. Expired entries are dropped lazily, when read and when room
    is needed.

    Args:
        max_entries: Most entries kept; the least recently used one goes first.
        clock: The time source for expiry.

    Raises:
        ConfigurationError: ``max_entries`` is not an int >= 1, or ``clock`` is not a
            :class:`Clock`.
    """

    __slots__ = ("_data", "_max", "_next_expiry", "_now")

    def __init__(self, *, max_entries: int = 1024, clock: Clock) -> None:
        if not is_count(max_entries):
            raise ConfigurationError(
                f"max_entries must be an int >= 1, got {describe(max_entries)}"
            )
        # Checked here: clock=None used to raise a raw AttributeError on the next line.
        check_implements(clock, Clock, "clock")
        self._max = max_entries
        self._now = clock.now  # bound once: every hit reads the clock
        # key -> (expiry time, value), least recently used first.
        self._data: OrderedDict[str, tuple[float, V]] = OrderedDict()
        # No entry expires before this: lets a full cache skip the expiry sweep on most inserts.
        self._next_expiry = math.inf

    @property
    def max_entries(self) -> int:
        """The LRU bound."""
        return self._max

    def __len__(self) -> int:
        """Return the number of live entries (expired ones are dropped first)."""
        self._purge_expired(self._now())
        return len(self._data)

    async def get(self, key: str) -> V | None:
        """Return the value under ``key`` if it has not expired, and mark it recently used.

        Args:
            key: The cache key.

        Returns:
            The stored value, or None when absent or expired.
        """
        return self.get_nowait(key)

    def reads(self) -> Reads[V]:
        """Return the cache's own C-level reads, for a hit path that calls no Python function.

        Returns:
            ``(lookup, touch, now)``: ``lookup(key)`` is the ``(expiry, value)`` entry or None,
            the entry is live while ``expiry > now()``, and ``touch(key)`` marks a live entry
            ``lookup`` has just found as the most recently used. An expired entry is left for
            :meth:`get_nowait` to drop.
        """
        data = self._data
        return data.get, data.move_to_end, self._now

    def get_nowait(self, key: str) -> V | None:
        """Synchronous :meth:`get`.

        Args:
            key: The cache key.

        Returns:
            The stored value, or None when absent or expired.
        """
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry[0] <= self._now():
            del self._data[key]
            return None
        self._data.move_to_end(key)
        return entry[1]

    async def set(self, key: str, value: V, ttl: float) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds.

        Args:
            key: The cache key.
            value: Stored as is (not copied).
            ttl: Seconds to keep it; ``<= 0`` (or NaN) stores nothing and forgets any older
                value under ``key``, which the caller has just replaced with a fresher answer.
        """
        if not ttl > 0:
            self._data.pop(key, None)
            return
        now = self._now()
        expiry = now + ttl
        data = self._data
        data[key] = (expiry, value)
        data.move_to_end(key)
        self._next_expiry = min(self._next_expiry, expiry)
        if len(data) > self._max:
            self._purge_expired(now)
            while len(data) > self._max:
                data.popitem(last=False)

    async def delete(self, key: str) -> None:
        """Forget ``key``; nothing happens when it is absent.

        Args:
            key: The cache key.
        """
        self._data.pop(key, None)

    async def clear(self) -> None:
        """Forget every entry."""
        self._data.clear()
        self._next_expiry = math.inf

    def _purge_expired(self, now: float) -> None:
        if now < self._next_expiry:
            return
        data = self._data
        for key in [k for k, (expiry, _) in data.items() if expiry <= now]:
            del data[key]
        self._next_expiry = min((expiry for expiry, _ in data.values()), default=math.inf)

    def __repr__(self) -> str:
        return f"MemoryCache(entries={len(self._data)}, max_entries={self._max})"

    def fill(self, key: str) -> AbstractAsyncContextManager[V | None]:
        """Yield None at once: nothing to coordinate within one process.

        The client's single-flight already coalesces identical fetches in this process.
        """
        return _no_coordination()


def _header_values(headers: Mapping[str, str], name: str) -> list[str]:
    """Every value of header ``name``, matched case-insensitively, for any mapping type."""
    getall = getattr(headers, "getall", None)
    if getall is not None:  # multidict: repeated headers and case-insensitivity built in
        return [str(v) for v in getall(name, ())]
    lowered = name.lower()
    return [v for k, v in headers.items() if k.lower() == lowered]


def _seconds(text: str) -> float | None:
    text = text.strip().strip('"')
    if not (text.isascii() and text.isdigit()):  # delta-seconds: ASCII digits only
        return None
    return float(text)


def ttl_from_headers(headers: Mapping[str, str], default: float) -> float:
    """Return how long a response may be cached, from its headers and the user's TTL.

    The user's setting is an upper bound: the server can shorten it, never lengthen it.

    * ``Cache-Control: no-store`` or ``no-cache`` -> 0 (do not cache);
    * ``Cache-Control: max-age=N`` -> ``N - Age`` (the part of its life the answer has
      already spent in a server or proxy cache), never below 0, never above ``default``;
      a malformed ``max-age`` counts as 0, as RFC 9111 says to treat it as stale;
    * no ``max-age`` -> ``default`` (``Age`` alone says nothing about freshness).

    Args:
        headers: Response headers (a multidict or any mapping; names matched
            case-insensitively).
        default: The TTL configured by the user, in seconds.

    Returns:
        Seconds to keep the response, ``>= 0``.
    """
    limit = max(0.0, default) if default == default else 0.0  # NaN -> 0
    max_age: float | None = None
    for value in _header_values(headers, "Cache-Control"):
        for directive in value.split(","):
            token, _, arg = directive.strip().partition("=")
            token = token.strip().lower()
            if token in ("no-store", "no-cache"):
                return 0.0
            if token == "max-age":
                seconds = _seconds(arg)
                seconds = 0.0 if seconds is None else seconds
                max_age = seconds if max_age is None else min(max_age, seconds)
    if max_age is None:
        return limit
    age = 0.0
    for value in _header_values(headers, "Age"):
        parsed = _seconds(value)
        if parsed is not None:
            age = max(age, parsed)
    return min(limit, max(0.0, max_age - age))
