"""Settings of a sandbox: catalogue, limits, cache, latency, quirks and clock."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from .._clock import Clock, MonotonicClock
from .._endpoints import ENDPOINTS as _ENDPOINTS
from .._errors import ConfigurationError
from .._options import (
    YEAR,
    check_bool,
    check_duration,
    check_implements,
    check_number,
    describe,
    is_count,
)
from .._validation import check_text
from ._ratelimit import RateLimit, WindowMode
from ._taxonomy import Profile

__all__ = [
    "ENDPOINTS",
    "LIVE_KEY_BUDGET",
    "UPLOAD_LIMIT",
    "SandboxConfig",
    "client_key_rate",
    "client_rates",
]

ENDPOINTS = frozenset(_ENDPOINTS)
"""Endpoint names used by rate limits, faults and the request log."""

UPLOAD_LIMIT = RateLimit(30, 60.0)
"""The documented upload limit: 30 requests per minute."""

LIVE_KEY_BUDGET = (RateLimit(60, 60.0), RateLimit(200, 86_400.0))
"""The key-wide budget the live tracker is reported to enforce over every endpoint: bursts of
at most 60 per minute, 200 per day (Jackett pull request #16552, 2026-02-05)."""


def _default_limits() -> dict[str, RateLimit]:
    return {"upload": UPLOAD_LIMIT}


@dataclass(frozen=True)
class SandboxConfig:
    """How a :class:`SandboxServer` behaves.

    Attributes:
        profile: ``"live"`` (default) answers the way the live tracker was recorded to in 2026:
            its taxonomy, ``downloadLink`` tokens, ``link`` to a details page, 401 for a wrong
            key, 400 for a search without a query, exact category filtering, the key-wide
            daily budget and NFO-required uploads. ``"docs"`` follows the documentation.
        seed: Seed of the catalogue; the same seed gives the same torrents and hashes.
        catalogue_size: Number of generated torrents (about 1 in 20 left unapproved).
        key_limits: Rate limit per API key, by endpoint; endpoints not listed are unlimited.
            Default: only the documented upload limit, 30 per 60 s.
        ip_limits: Rate limit per client IP, by endpoint, same shape. Default: as key_limits.
        rate_limit_mode: ``"sliding"`` (never more than N arrivals in any T seconds) or
            ``"fixed"`` (N per window aligned on multiples of T of the clock).
        cache_ttl: Lifetime of cached search answers in seconds; 0 disables the cache.
        cache_headers: Send ``Cache-Control: max-age`` and ``Age`` on search answers.
        latency: Seconds every request waits (on ``clock``) before being handled.
        quirks: Serve ``/meta`` the way some peers were seen to: leaf categories without
            ``children`` or with ``children: null``, empty tag groups as ``tags: null``.
        trust_forwarded_for: Take the client IP from ``X-Forwarded-For`` (first address), so a
            test can play several clients; off by default, like a tracker behind no proxy.
        api_key: The default key; a random one is generated when None. Never shown in repr.
        clock: Time source for rate-limit windows, the search cache, latency and delays.
        key_budget: Limits on every request of one key together, whatever the endpoint (on
            top of ``key_limits``). None: the profile's (live: :data:`LIVE_KEY_BUDGET`, 60 per
            60 s and 200 per day; docs: none); ``()`` for none. Tests scale it down, e.g.
            ``(RateLimit(6, 1.0), RateLimit(20, 10.0))``.
        require_nfo: Refuse uploads without ``nfoFile`` (400). None: the profile's (live:
            yes, as uploaders report; docs: no, the field is documented as optional).
        download_token_ttl: Seconds a ``downloadLink`` token stays valid (live profile).
        link_origin: Origin written in ``link`` and ``downloadLink`` (live profile); None for
            the sandbox's own. ``"http://localhost:3000"`` replays the links the tracker sent
            for a while in early 2026 (Prowlarr/Indexers pull request #743).
        wall_clock: Unix time, for token expiry (``exp``) and upload dates.

    Raises:
        ConfigurationError: A field of the wrong type or out of range: the seed is an int from
            0 to 2**64 - 1, ``catalogue_size`` at most 100,000, every duration finite and at
            most a year.
    """

    seed: int = 0
    catalogue_size: int = 300
    key_limits: Mapping[str, RateLimit] = field(default_factory=_default_limits)
    ip_limits: Mapping[str, RateLimit] = field(default_factory=_default_limits)
    rate_limit_mode: WindowMode = "sliding"
    cache_ttl: float = 30.0
    cache_headers: bool = True
    latency: float = 0.0
    quirks: bool = False
    trust_forwarded_for: bool = False
    api_key: str | None = field(default=None, repr=False)
    clock: Clock = field(default_factory=MonotonicClock)
    profile: Profile = "live"
    key_budget: Sequence[RateLimit] | None = None
    require_nfo: bool | None = None
    download_token_ttl: float = 3600.0
    link_origin: str | None = None
    wall_clock: Callable[[], float] = time.time

    @property
    def key_budget_limits(self) -> tuple[RateLimit, ...]:
        """Return the key-wide limits in force: ``key_budget``, or the profile's default."""
        if self.key_budget is not None:
            return tuple(self.key_budget)
        return LIVE_KEY_BUDGET if self.profile == "live" else ()

    @property
    def nfo_required(self) -> bool:
        """Return whether uploads must carry ``nfoFile``: ``require_nfo`` or the profile's."""
        return self.profile == "live" if self.require_nfo is None else self.require_nfo

    def __post_init__(self) -> None:
        # Every field is checked here, with the SDK's checks: a wrong type used to raise a raw
        # TypeError, and cache_ttl=nan or latency=inf were taken, then broke every request.
        if self.profile not in ("live", "docs"):
            raise ConfigurationError(
                f"profile must be 'live' or 'docs', not {describe(self.profile)}"
            )
        if self.rate_limit_mode not in ("sliding", "fixed"):
            raise ConfigurationError(
                "rate_limit_mode must be 'sliding' or 'fixed', "
                f"not {describe(self.rate_limit_mode)}"
            )
        _check_numbers(self)
        for name in ("cache_headers", "quirks", "trust_forwarded_for"):
            check_bool(getattr(self, name), name)
        if self.require_nfo is not None:
            check_bool(self.require_nfo, "require_nfo")
        _check_limits("key_limits", self.key_limits)
        _check_limits("ip_limits", self.ip_limits)
        _check_objects(self)


# More torrents than a test needs: a huge size would generate for ever instead of failing.
_MAX_CATALOGUE = 100_000
# Seeds go into strings (the token secret, each draw's seed): str() of a huge int raises.
_MAX_SEED = 2**64 - 1


def _check_numbers(config: SandboxConfig) -> None:
    """Check the seed, the catalogue size and the durations (bounded by a year like the SDK's)."""
    if not (is_count(config.seed, 0) and config.seed <= _MAX_SEED):
        raise ConfigurationError(
            f"seed must be an int from 0 to {_MAX_SEED}, not {describe(config.seed)}"
        )
    if not (is_count(config.catalogue_size, 0) and config.catalogue_size <= _MAX_CATALOGUE):
        raise ConfigurationError(
            f"catalogue_size must be an int from 0 to {_MAX_CATALOGUE:_}, "
            f"not {describe(config.catalogue_size)}"
        )
    check_number(config.cache_ttl, "cache_ttl", 0.0, YEAR, unit=" of seconds")
    check_number(config.latency, "latency", 0.0, YEAR, unit=" of seconds")
    check_duration(config.download_token_ttl, "download_token_ttl")


def _check_objects(config: SandboxConfig) -> None:
    """Check the key budget, the clocks, the key and the link origin."""
    budget = config.key_budget
    if budget is not None and not (
        isinstance(budget, Sequence)
        and not isinstance(budget, (str, bytes))
        and all(isinstance(limit, RateLimit) for limit in budget)
    ):
        raise ConfigurationError(
            f"key_budget must be None or a sequence of RateLimit, not {describe(budget)}"
        )
    check_implements(config.clock, Clock, "clock")
    if not callable(config.wall_clock):
        raise ConfigurationError(
            f"wall_clock must be a function returning Unix seconds, "
            f"not {describe(config.wall_clock)}"
        )
    # The key is compared with what requests carry; link_origin is written into answers.
    key = check_text(config.api_key, "api_key", ConfigurationError)
    if key is not None and not key.strip():
        raise ConfigurationError("api_key must not be empty")
    check_text(config.link_origin, "link_origin", ConfigurationError)


def _check_limits(name: str, limits: object) -> None:
    """Check ``key_limits`` or ``ip_limits``: a mapping of known endpoints to RateLimit."""
    if not isinstance(limits, Mapping):
        raise ConfigurationError(
            f"{name} must be a mapping of endpoint to RateLimit, not {describe(limits)}"
        )
    unknown = [endpoint for endpoint in limits if endpoint not in ENDPOINTS]
    if unknown:
        raise ConfigurationError(
            f"{name} has unknown endpoints {describe(unknown)}; use {sorted(ENDPOINTS)}"
        )
    for endpoint, limit in limits.items():
        if not isinstance(limit, RateLimit):
            raise ConfigurationError(
                f"{name}[{endpoint!r}] must be a RateLimit, not {describe(limit)}"
            )


def client_rates(config: SandboxConfig) -> dict[str, list[tuple[int, float]] | None]:
    """Return, by endpoint, the client's ``<endpoint>_rate`` that matches ``config``'s limits.

    One key from one address meets both the key and the IP limit of an endpoint, so the
    client keeps to both; an endpoint the sandbox does not limit is not limited either.

    Args:
        config: The sandbox's settings.

    Returns:
        ``{"search": [(calls, period), ...] or None, ...}`` for every endpoint.
    """
    rates: dict[str, list[tuple[int, float]] | None] = {}
    for endpoint in sorted(ENDPOINTS):
        limits = {
            (limit.calls, float(limit.period))
            for limit in (config.key_limits.get(endpoint), config.ip_limits.get(endpoint))
            if limit is not None
        }
        rates[endpoint] = sorted(limits) or None
    return rates


def client_key_rate(config: SandboxConfig) -> list[tuple[int, float]] | None:
    """Return the client's key-wide rate that matches ``config``'s key budget, or None.

    Args:
        config: The sandbox's settings.

    Returns:
        ``[(calls, period), ...]`` from :attr:`SandboxConfig.key_budget_limits`, or None when
        the sandbox sets no key-wide budget.
    """
    return sorted((limit.calls, float(limit.period)) for limit in config.key_budget_limits) or None
