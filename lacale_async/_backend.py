"""Where limiters and caches live: the :class:`Backend` seam and the in-process default.

A backend hands the client one rate limiter per endpoint and its caches. The client never
builds them itself, so a shared backend (Redis, for several processes on one key) plugs in
without touching it.
"""

from __future__ import annotations

import asyncio
import hashlib
import weakref
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from ._cache import Cache, MemoryCache
from ._clock import Clock
from ._limiter import Rate, RateLimiter, WindowLimiter, WindowLog

__all__ = ["Backend", "LocalBackend", "derive_scope"]


def derive_scope(api_key: str, base_url: str) -> str:
    """Return an opaque scope for one key at one origin, safe to log and to use as a key.

    Args:
        api_key: The API key (only its hash appears in the result).
        base_url: The tracker origin.

    Returns:
        A hex digest: equal for equal inputs, and unrelated to the key for a reader.
    """
    data = b"lacale_async scope v1\0" + base_url.encode() + b"\0" + api_key.encode()
    return hashlib.sha256(data).hexdigest()


@runtime_checkable
class Backend(Protocol):
    """A provider of rate limiters and caches, shared by clients of the same scope.

    ``scope`` is an opaque string derived from the API key and base URL (never the key):
    everything is shared within a scope and never across scopes.
    """

    def limiter(
        self, *, scope: str, endpoint: str, rates: Sequence[Rate], clock: Clock
    ) -> RateLimiter:
        """Return the limiter enforcing ``rates`` on ``endpoint`` for ``scope``."""
        ...

    def cache(self, *, scope: str, namespace: str, max_entries: int, clock: Clock) -> Cache[Any]:
        """Return a cache for ``namespace`` (``"search"``, ``"meta"``...) of ``scope``."""
        ...

    async def aclose(self) -> None:
        """Release what the backend holds (connections...); idempotent."""
        ...


# (event loop or None, scope, endpoint) -> the shared history. Weak values: an entry lives
# exactly as long as some limiter uses its log; the key then keeps its loop alive, so a loop's
# id can never be reused for a stale entry. Creating a dict binds nothing to a loop.
_LogKey = tuple[asyncio.AbstractEventLoop | None, str, str]
_LOGS: weakref.WeakValueDictionary[_LogKey, WindowLog] = weakref.WeakValueDictionary()


def _shared_log(scope: str, endpoint: str) -> WindowLog:
    try:
        loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    key = (loop, scope, endpoint)
    log = _LOGS.get(key)
    if log is None:
        log = WindowLog()
        _LOGS[key] = log
    return log


class LocalBackend:
    """The default backend: limiters and caches in this process's memory.

    Limiters of every client with the same scope share one budget per endpoint (one
    :class:`WindowLog` per running event loop, scope and endpoint), so two clients on the same
    key never add up to more than the tracker allows, and two keys never share. Each
    :meth:`cache` call returns a new :class:`MemoryCache`: caches are per client.
    """

    __slots__ = ()

    def limiter(
        self, *, scope: str, endpoint: str, rates: Sequence[Rate], clock: Clock
    ) -> RateLimiter:
        """Return a :class:`WindowLimiter` on the log shared by ``scope`` and ``endpoint``.

        Call it from the event loop that will use the limiter (the client does, in ``open()``).

        Args:
            scope: Opaque key-and-origin scope.
            endpoint: The endpoint name (``"search"``, ``"upload"``...).
            rates: The ``(calls, period)`` pairs to enforce.
            clock: The time source; clients sharing a scope must use the same kind of clock.

        Returns:
            The limiter.

        Raises:
            ConfigurationError: A rate is invalid.
        """
        return WindowLimiter(rates, clock=clock, log=_shared_log(scope, endpoint), name=endpoint)

    def cache(self, *, scope: str, namespace: str, max_entries: int, clock: Clock) -> Cache[Any]:
        """Return a new in-memory TTL + LRU cache.

        Args:
            scope: Opaque key-and-origin scope (entries of one client are of one scope).
            namespace: What the cache holds; unused here, for shared backends.
            max_entries: The LRU bound.
            clock: The time source for expiry.

        Returns:
            A :class:`MemoryCache`.

        Raises:
            ConfigurationError: ``max_entries`` is not an int >= 1.
        """
        return MemoryCache(max_entries=max_entries, clock=clock)

    async def aclose(self) -> None:
        """Nothing to release: shared logs go away with the last limiter using them."""

    def __repr__(self) -> str:
        return "LocalBackend()"
