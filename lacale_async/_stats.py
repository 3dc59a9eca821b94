"""Counters a client keeps about its own traffic, for dashboards and tests."""

from __future__ import annotations

import msgspec

from ._endpoints import ENDPOINTS, Endpoint

__all__ = [
    "ClientStats",
    "EndpointCounters",
    "EndpointStats",
    "KeyBudgetStats",
    "KeyCounters",
    "StatsRecorder",
]


class EndpointStats(msgspec.Struct, frozen=True, kw_only=True):
    """Traffic of one endpoint.

    Attributes:
        requests: HTTP requests sent (retries included).
        retries: Requests that were retries of an earlier failed attempt.
        rate_limited: 429 answers received.
        errors: Calls that ended in an error after all retries.
        limiter_wait: Seconds spent waiting for the endpoint's limiter.
    """

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    errors: int = 0
    limiter_wait: float = 0.0


class KeyBudgetStats(msgspec.Struct, frozen=True, kw_only=True):
    """This client's use of the key-wide budget (``client.stats.key_budget``).

    Attributes:
        requests: Units this client spent: requests that reached the network or may have
            (retries, uploads and downloads included; a refused connection spends none; one
            cancelled once its unit was taken may count: the SDK cannot tell whether its bytes
            left, and a unit given back that the tracker counted could earn the key a 429).
        wait: Seconds spent waiting for the key budget.
        refused: Requests refused with :class:`QuotaExceededError` (nothing was sent).
        unexpected_429: 429 answers to requests the key budget had allowed; each paused the
            whole key budget (the tracker's real budget is smaller than ``key_rate``).
    """

    requests: int = 0
    wait: float = 0.0
    refused: int = 0
    unexpected_429: int = 0


class ClientStats(msgspec.Struct, frozen=True, kw_only=True):
    """A snapshot of a client's counters (``client.stats``).

    Attributes:
        endpoints: Per-endpoint traffic, keyed by ``search``, ``meta``, ``upload``, ``download``.
        cache_hits: Calls answered from the cache without a request.
        cache_misses: Calls that had to ask the server (or join a request in flight).
        coalesced: Calls that waited on an identical request already in flight instead of
            sending their own.
        key_budget: Use of the key-wide budget (all zeros with ``key_rate=None``); what is
            left of it: ``await client.quota()``.
    """

    endpoints: dict[str, EndpointStats]
    cache_hits: int = 0
    cache_misses: int = 0
    coalesced: int = 0
    key_budget: KeyBudgetStats = msgspec.field(default_factory=KeyBudgetStats)

    @property
    def requests(self) -> int:
        """HTTP requests sent, all endpoints together."""
        return sum(e.requests for e in self.endpoints.values())

    @property
    def retries(self) -> int:
        """Retries, all endpoints together."""
        return sum(e.retries for e in self.endpoints.values())

    @property
    def rate_limited(self) -> int:
        """429 answers received, all endpoints together."""
        return sum(e.rate_limited for e in self.endpoints.values())

    @property
    def limiter_wait(self) -> float:
        """Seconds spent waiting on limiters, all endpoints together."""
        return sum(e.limiter_wait for e in self.endpoints.values())


class EndpointCounters:
    """The mutable side of :class:`EndpointStats`."""

    __slots__ = ("errors", "limiter_wait", "rate_limited", "requests", "retries")

    def __init__(self) -> None:
        self.requests = 0
        self.retries = 0
        self.rate_limited = 0
        self.errors = 0
        self.limiter_wait = 0.0

    async def count_hop(self) -> None:
        """Count a redirect hop as one more request, for a sender that holds no slot."""
        self.requests += 1


class KeyCounters:
    """The mutable side of :class:`KeyBudgetStats`; only the key budget writes to it."""

    __slots__ = ("refused", "requests", "unexpected_429", "wait")

    def __init__(self) -> None:
        self.requests = 0
        self.wait = 0.0
        self.refused = 0
        self.unexpected_429 = 0


class StatsRecorder:
    """The mutable side of :class:`ClientStats`; the client's engine and sender write to it."""

    __slots__ = ("cache_hits", "cache_misses", "coalesced", "endpoints", "key")

    def __init__(self) -> None:
        self.endpoints: dict[Endpoint, EndpointCounters] = {
            name: EndpointCounters() for name in ENDPOINTS
        }
        self.key = KeyCounters()
        self.cache_hits = 0
        self.cache_misses = 0
        self.coalesced = 0

    def count_coalesced(self) -> None:
        """Count one call that took the answer of an identical request already in flight."""
        self.coalesced += 1

    def snapshot(self) -> ClientStats:
        """Return the counters as an immutable :class:`ClientStats`."""
        return ClientStats(
            endpoints={
                name: EndpointStats(
                    requests=c.requests,
                    retries=c.retries,
                    rate_limited=c.rate_limited,
                    errors=c.errors,
                    limiter_wait=c.limiter_wait,
                )
                for name, c in self.endpoints.items()
            },
            cache_hits=self.cache_hits,
            cache_misses=self.cache_misses,
            coalesced=self.coalesced,
            key_budget=KeyBudgetStats(
                requests=self.key.requests,
                wait=self.key.wait,
                refused=self.key.refused,
                unexpected_429=self.key.unexpected_429,
            ),
        )
