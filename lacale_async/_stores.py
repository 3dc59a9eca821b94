"""Where a client's shared state is stored: the :class:`Backend` seam and the in-process default.

A backend is not an HTTP backend: it stores what clients of one key share, handing the client
one rate limiter per endpoint, the key budget's ledger and its caches. The client never builds
them itself, so a shared store (Redis, for several processes on one key) plugs in without
touching it.
"""

from __future__ import annotations

import functools
import hashlib
import threading
import weakref
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from ._cache import Cache, MemoryCache
from ._clock import Clock, off_loop_hold, wall_clock
from ._ledger import Ledger, MemoryLedger
from ._limiter import Rate, RateLimiter, WindowLimiter, WindowLog
from ._quota_store import SqliteLedger, open_ledger

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
# each FakeClock is its own). Weak values: clients in use keep an entry alive, and _KEPT keeps
# an in-memory one alive after its last client closed, for as long as its history still binds
# a request: a script that opens a new client per call must not get a fresh budget each time.
_SHARED: weakref.WeakValueDictionary[Hashable, Any] = weakref.WeakValueDictionary()
_KEPT: dict[Hashable, tuple[Any, Callable[[], bool]]] = {}
_SHARED_LOCK = threading.Lock()


def _shared(key: Hashable, make: Callable[[], T], idle: Callable[[T], bool] | None = None) -> T:
    """Return the state shared under ``key``, made on first use.

    Args:
        key: What the state is shared by.
        make: Builds it.
        idle: For state kept only in memory: tells when it no longer binds anything, after
            which it may be forgotten once no client uses it.
    """
    with _SHARED_LOCK:
        value: T | None = _SHARED.get(key)
        if value is None:
            value = make()
            _SHARED[key] = value
        for kept_key, (kept, is_idle) in list(_KEPT.items()):
            if kept is not value and is_idle():
                del _KEPT[kept_key]
        if idle is not None:
            _KEPT[key] = (value, functools.partial(idle, value))
        return value


def _idle(ledger: SqliteLedger | MemoryLedger) -> bool:
    return ledger.idle()


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
        log = _shared(
            (clock, scope, "endpoint", endpoint), WindowLog, lambda log: log.idle_at(clock.now())
        )
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
            return _shared((clock, scope, "key"), lambda: MemoryLedger(wall), MemoryLedger.idle)
        hold = off_loop_hold(clock)
        key = (clock, scope, "key", str(store))
        ledger: SqliteLedger | MemoryLedger = _shared(
            key, lambda: open_ledger(store, scope, wall, hold)
        )
        # Kept past its last client while forgetting it would lose what it counted (a store
        # that could not be used, or failed, or was locked at the close): a script opening a
        # new client per call must not start again from the file.
        _shared(key, lambda: ledger, _idle)
        return ledger

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
        """Nothing to release: shared state goes once no client uses it and nothing binds."""

    def __repr__(self) -> str:
        return "LocalBackend()"
