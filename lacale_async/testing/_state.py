"""Everything a running sandbox holds: keys, catalogue, limiter, cache, faults and logs."""

from __future__ import annotations

import dataclasses
import hashlib
import heapq
import itertools
import secrets
from collections import Counter

from .._errors import ValidationError
from .._options import describe
from ._cache import SearchCache
from ._catalogue import Catalogue, CatalogueTorrent
from ._checks import check_required_text
from ._config import SandboxConfig
from ._faults import FaultInjector
from ._ratelimit import WindowLimiter
from ._records import RecordedRequest, UploadRecord
from ._tokens import TokenSigner

__all__ = ["DEFAULT_KEY_NAME", "SandboxState", "new_api_key"]

DEFAULT_KEY_NAME = "default"


def new_api_key() -> str:
    """Return a fresh random API key."""
    return "lcsb_" + secrets.token_urlsafe(24)


class SandboxState:
    """The mutable state shared by the handlers of one sandbox.

    Attributes:
        config: The settings.
        catalogue: The torrents (generated ones and uploads).
        limiter: Rate-limit windows.
        cache: Search answers.
        faults: Queued faults.
        requests: The request log, in completion order.
        uploads: Accepted uploads, in order.
        throttled: 429s sent by the rate limiter, by ``(endpoint, scope)`` with scope "ip",
            "key" or "budget" (the key-wide budget; injected 429 faults are not counted).
        tokens: Mints and checks the live profile's download tokens.
    """

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.clock = config.clock
        self.catalogue = Catalogue.generate(config.seed, config.catalogue_size, config.profile)
        self.limiter = WindowLimiter(config.rate_limit_mode)
        self.cache = SearchCache(config.cache_ttl)
        self.faults = FaultInjector()
        self.requests: list[RecordedRequest] = []
        self.uploads: list[UploadRecord] = []
        self.throttled: Counter[tuple[str, str]] = Counter()
        secret = hashlib.sha256(f"lacale-sandbox-token:{config.seed}".encode()).digest()
        self.tokens = TokenSigner(secret, config.download_token_ttl)
        self.published = 0
        self._scheduled: list[tuple[float, int, CatalogueTorrent]] = []
        self._order = itertools.count()
        self._keys: dict[str, str] = {}
        self.default_key = config.api_key or new_api_key()
        self._keys[self.default_key] = DEFAULT_KEY_NAME

    def add_key(self, name: str | None = None, key: str | None = None) -> str:
        """Register another valid key and return it.

        Args:
            name: How the request log names it; ``key-2``, ``key-3``... when None.
            key: The key itself; random when None.

        Returns:
            The key.

        Raises:
            ValidationError: The key or the name is already registered, is not text, or the
                key is empty.
        """
        # Text only: key=123 raised a raw AttributeError, and a name goes in the request log.
        key = new_api_key() if key is None else check_required_text(key, "key", ValidationError)
        if not key.strip():
            raise ValidationError("an API key must not be empty")
        if name is None:
            name = f"key-{len(self._keys) + 1}"
        name = check_required_text(name, "name", ValidationError)
        if key in self._keys or name in self._keys.values():
            raise ValidationError(f"key or name {describe(name)} is already registered")
        self._keys[key] = name
        return key

    def key_name(self, key: str) -> str | None:
        """Return the name of a valid key, or None for an unknown one."""
        return self._keys.get(key)

    def schedule(self, at: float, torrent: CatalogueTorrent) -> None:
        """Publish ``torrent`` once the sandbox clock reaches ``at`` (see :meth:`release_due`)."""
        heapq.heappush(self._scheduled, (at, next(self._order), torrent))

    def release_due(self, now: float) -> None:
        """Add every scheduled torrent whose time has come, dated now; every request calls it."""
        while self._scheduled and self._scheduled[0][0] <= now:
            _, _, torrent = heapq.heappop(self._scheduled)
            self.publish_now(torrent)

    def publish_now(self, torrent: CatalogueTorrent) -> None:
        """Add ``torrent`` to the catalogue, dated so that it sorts before everything there."""
        self.catalogue.add(dataclasses.replace(torrent, published_ms=self.next_published_ms()))

    def next_published_ms(self) -> int:
        """Return a publication time (ms): now, or just after the newest torrent if later."""
        return max(int(self.config.wall_clock() * 1000), self.catalogue.newest_ms + 1)

    def reset(self) -> None:
        """Forget traffic: log, uploads (removed from the catalogue), faults, windows, cache."""
        self.catalogue.truncate_to_generated()
        self._scheduled.clear()
        self.limiter.reset()
        self.cache.clear()
        self.faults.clear()
        self.requests.clear()
        self.uploads.clear()
        self.throttled.clear()
