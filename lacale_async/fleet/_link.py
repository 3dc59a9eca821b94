"""The connection a RedisBackend shares with its limiters, caches and ledgers."""

from __future__ import annotations

import redis.asyncio as aioredis

from .._errors import ClientStateError
from ._failure import FailurePolicy
from ._tasks import Background

__all__ = ["RedisLink"]


class RedisLink:
    """One Redis client, the keys' prefix and leases, the failure policy and background work.

    Args:
        client: The connected client.
        prefix: First part of every key.
        policy: What a Redis failure does (shared by everything built on this link).
        lease: Seconds a rate-limit slot may stay in flight before it counts as finished.
        lock_timeout: Seconds a cache fill lock lives.
    """

    __slots__ = ("_closed", "client", "lease", "lock_timeout", "policy", "prefix", "tasks")

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str,
        policy: FailurePolicy,
        lease: float,
        lock_timeout: float,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.policy = policy
        self.lease = lease
        self.lock_timeout = lock_timeout
        self.tasks = Background()
        self._closed = False

    @property
    def closed(self) -> bool:
        """True once the backend was closed."""
        return self._closed

    def check_open(self) -> None:
        """Refuse use after the backend was closed.

        Raises:
            ClientStateError: The backend was closed.
        """
        if self._closed:
            raise ClientStateError("the RedisBackend was closed; open a new one")

    def key(self, scope: str, *parts: str) -> str:
        """Return the Redis key for ``parts`` of ``scope``.

        The scope sits in braces, a Redis Cluster hash tag, so every key of one scope lives in
        one slot and a script can touch several of them.
        """
        return ":".join((self.prefix, "{" + scope + "}", *parts))

    async def close(self, grace: float) -> None:
        """Mark the link closed and give background clean-ups ``grace`` seconds to finish."""
        self._closed = True
        await self.tasks.close(grace)
