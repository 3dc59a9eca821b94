"""Where a client's shared state is stored: the :class:`Backend` seam and the in-process default.

A backend is not an HTTP backend: it stores what clients of one key share, handing the client
one rate limiter per endpoint, the key budget's ledger and its caches. The client never builds
them itself, so a shared store (Redis, for several processes on one key) plugs in without
touching it.
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from ._cache import Cache, MemoryCache
from ._clock import Clock, wall_clock
from ._ledger import Ledger, MemoryLedger
from ._limiter import Rate, RateLimiter, WindowLimiter, WindowLog
from ._quota_store import open_ledger

__all__ = ["Backend", "KeyLedgerBackend", "LocalBackend", "derive_scope"]

T = TypeVar("T")


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


@runtime_checkable
class KeyLedgerBackend(Protocol):
    """A backend that also keeps the key-wide budget (optional: others get the local one)."""

    def key_ledger(self, *, scope: str, clock: Clock, store: Path | None) -> Ledger:
        """Return the ledger of the key-wide budget of ``scope``."""
        ...


# (clock, scope, what) -> the shared state, one per process whatever the event loops or
# threads: the state is thread-safe and wakes each waiter on its own loop. Keyed by clock too,
# because stamps of one clock mean nothing to another (MonotonicClock instances are equal;
# each FakeClock is its own). Weak values: an entry lives exactly as long as a client uses it.
_SHARED: weakref.WeakValueDictionary[Hashable, Any] = weakref.WeakValueDictionary()
_SHARED_LOCK = threading.Lock()


def _shared(key: Hashable, make: Callable[[], T]) -> T:
    with _SHARED_LOCK:
        value: T | None = _SHARED.get(key)
        if value is None:
            value = make()
            _SHARED[key] = value
        return value


class LocalBackend:
    """The default backend: limiters and caches in this process's memory.

    Limiters of every client with the same scope share one budget per endpoint (one
    :class:`WindowLog` per clock, scope and endpoint, whatever the event loops and threads), so
    two clients on the same key never add up to more than the tracker allows, and two keys
    never share. The key-wide budget is one ledger per clock, scope and store, persisted in
    the store when there is one. Each :meth:`cache` call returns a new :class:`MemoryCache`:
    caches are per client.
    """

    __slots__ = ()

    def limiter(
        self, *, scope: str, endpoint: str, rates: Sequence[Rate], clock: Clock
    ) -> RateLimiter:
        """Return a :class:`WindowLimiter` on the log shared by ``scope`` and ``endpoint``.

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
        log = _shared((clock, scope, "endpoint", endpoint), WindowLog)
        return WindowLimiter(rates, clock=clock, log=log, name=endpoint)

    def key_ledger(self, *, scope: str, clock: Clock, store: Path | None) -> Ledger:
        """Return the key-wide budget's ledger of ``scope``, shared in the process.

        Args:
            scope: Opaque key-and-origin scope.
            clock: The time source (the ledger reads its wall-clock time).
            store: The SQLite file shared by restarts and processes, or None for memory.

        Returns:
            A SQLite-backed ledger, or a memory one (``store`` None, or unusable: warned).
        """
        wall = wall_clock(clock)
        if store is None:
            return _shared((clock, scope, "key"), lambda: MemoryLedger(wall))
        return _shared((clock, scope, "key", str(store)), lambda: open_ledger(store, scope, wall))

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
