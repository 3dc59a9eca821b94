"""The tracker's ~30 s search cache: one answer per key + query + categories + tmdbId."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

__all__ = ["CachedAnswer", "SearchCache"]


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    """A cached search body and when it was computed (sandbox clock)."""

    body: bytes
    stored_at: float


class SearchCache:
    """Search answers kept for ``ttl`` seconds of the sandbox clock.

    Because an answer is reused until it expires, a torrent uploaded meanwhile stays
    invisible to that exact search: the real tracker behaves the same way.
    """

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[Hashable, CachedAnswer] = {}

    def get(self, key: Hashable, now: float) -> CachedAnswer | None:
        """Return the live answer for ``key``, or None (expired entries are dropped)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if now - entry.stored_at >= self.ttl:
            del self._entries[key]
            return None
        return entry

    def put(self, key: Hashable, body: bytes, now: float) -> CachedAnswer:
        """Store an answer computed at ``now`` (nothing is kept when the TTL is 0)."""
        entry = CachedAnswer(body, now)
        if self.ttl > 0:
            self._entries[key] = entry
        return entry

    def clear(self) -> None:
        """Drop every answer."""
        self._entries.clear()
