"""A cached endpoint of an open client (search, meta): its cache, calls in flight, decoding."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, Literal, TypeVar

from ._cache import Cache, MemoryCache, Reads
from ._endpoints import Endpoint
from ._singleflight import SingleFlight

__all__ = ["CacheMode", "Cached"]

V = TypeVar("V")

CacheMode = Literal["use", "refresh", "bypass"]
"""How one call uses the cache: ``use`` (read and fill), ``refresh`` (skip the read, fill with
the fresh answer), ``bypass`` (neither read nor fill)."""


class Cached(Generic[V]):
    """One cached endpoint of an open client: its cache, its calls in flight, its decoding.

    Attributes:
        peek: Reads the in-process cache without a coroutine (None for a shared cache, or when
            caching is off).
        reads: The in-process cache's C-level ``(lookup, touch, now)`` (None for a shared
            cache, or when caching is off): the client's inlined hit path calls them.
    """

    __slots__ = (
        "cache",
        "decode",
        "endpoint",
        "flight",
        "local",
        "path",
        "peek",
        "promised",
        "reads",
        "ttl",
    )

    def __init__(
        self,
        endpoint: Endpoint,
        path: str,
        cache: Cache[V],
        *,
        ttl: float,
        decode: Callable[[bytes], V],
        promised: str,
        on_shared: Callable[[], None] | None = None,
    ) -> None:
        self.endpoint: Endpoint = endpoint
        self.path = path
        self.cache = cache
        self.ttl = ttl
        self.decode = decode
        self.promised = promised
        # In-process: this process's single-flight is all the coordination there is.
        self.local = isinstance(cache, MemoryCache)
        self.peek: Callable[[str], V | None] | None = None
        self.reads: Reads[V] | None = None
        if isinstance(cache, MemoryCache) and ttl > 0:
            self.peek = cache.get_nowait
            self.reads = cache.reads()
        self.flight: SingleFlight[V] = SingleFlight(on_shared)
