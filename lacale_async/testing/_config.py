"""Settings of a sandbox: catalogue, limits, cache, latency, quirks and clock."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .._clock import Clock, MonotonicClock
from .._errors import ConfigurationError
from ._ratelimit import RateLimit, WindowMode

__all__ = ["ENDPOINTS", "UPLOAD_LIMIT", "SandboxConfig", "client_rates"]

ENDPOINTS = frozenset({"search", "meta", "upload", "download"})
"""Endpoint names used by rate limits, faults and the request log."""

UPLOAD_LIMIT = RateLimit(30, 60.0)
"""The documented upload limit: 30 requests per minute."""


def _default_limits() -> dict[str, RateLimit]:
    return {"upload": UPLOAD_LIMIT}


@dataclass(frozen=True)
class SandboxConfig:
    """How a :class:`SandboxServer` behaves.

    Attributes:
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

    def __post_init__(self) -> None:
        for name, limits in (("key_limits", self.key_limits), ("ip_limits", self.ip_limits)):
            unknown = set(limits) - ENDPOINTS
            if unknown:
                raise ConfigurationError(
                    f"{name} has unknown endpoints {sorted(unknown)}; use {sorted(ENDPOINTS)}"
                )
        if self.rate_limit_mode not in ("sliding", "fixed"):
            raise ConfigurationError(
                f"rate_limit_mode must be 'sliding' or 'fixed', not {self.rate_limit_mode!r}"
            )
        if self.catalogue_size < 0:
            raise ConfigurationError("catalogue_size must be >= 0")
        if self.cache_ttl < 0 or self.latency < 0:
            raise ConfigurationError("cache_ttl and latency must be >= 0")
        if self.api_key is not None and not self.api_key.strip():
            raise ConfigurationError("api_key must not be empty")


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
