"""``RedisBackend``: one key's rate budget and cache shared by processes through Redis."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from .._cache import Cache, MemoryCache
from .._clock import Clock, wall_clock
from .._errors import BackendError, ConfigurationError
from .._ledger import MemoryLedger
from .._lifecycle import Lifecycle, Openable
from .._limiter import Rate, RateLimiter, WindowLimiter
from .._options import check_duration, describe
from .._stores import LocalBackend
from ._cache import RedisCache
from ._codec import CODECS
from ._failure import REDIS_ERRORS, FailurePolicy, OnRedisError
from ._limiter import RedisLimiter
from ._link import RedisLink
from ._quota import RedisLedger
from ._redis_url import redact_redis_url, redis_url_is_malformed, url_start

__all__ = ["RedisBackend"]

logger = logging.getLogger("lacale_async.fleet")

_SCHEMES = ("redis://", "rediss://", "unix://")


def _client_address(client: aioredis.Redis) -> str:
    kwargs = client.connection_pool.connection_kwargs
    if kwargs.get("path"):
        return f"unix://{kwargs['path']}"
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"


class RedisBackend(Openable[RedisLink]):
    """Limiters, key budget and caches in Redis: processes using one key share them all.

    Use it when several processes (workers of a bot, a bulk job over several machines) use
    the same API key: with the default in-process backend each would spend the whole budget.
    Give the same backend configuration to every process; keys in Redis are named after the
    opaque scope (a hash of key and origin), never the key itself::

        async with RedisBackend("redis://localhost:6379/0") as backend:
            async with LaCaleClient(key, backend=backend) as client:
                ...

    The backend's life is explicit: :meth:`open` (or ``async with``) checks that Redis answers
    and :meth:`aclose` releases the connections. A client never closes a backend it was given.

    Args:
        url_or_client: A ``redis://``, ``rediss://`` or ``unix://`` URL, or a connected
            ``redis.asyncio.Redis`` (which the backend then never closes).
        prefix: First part of every Redis key, to share a Redis between applications.
        on_redis_error: What a Redis failure after :meth:`open` does. ``"fail"`` (default):
            the call raises :class:`BackendError` and nothing is sent. ``"local"``: log one
            WARNING, then this backend limits and caches in this process only, for the rest of
            its life (each process gets the whole budget again, so 429s become possible; a
            request is still never sent without passing a limiter).
        lock_timeout: Seconds a cache fill lock lives without renewal. Its holder renews it
            while fetching (however long it queues for the rate limiter), so this bounds only
            how long the other processes wait for a holder that died before fetching
            themselves.
        slot_lease: Seconds a rate-limit slot may stay in flight before it counts as finished
            (frees the slot of a process that died mid-request). Keep it above the client's
            ``timeout``.
        timeout: Seconds allowed for connecting and for each Redis command of a client built
            from a URL, and for the opening ``PING``.

    Raises:
        ConfigurationError: A bad URL, prefix, policy or duration.
    """

    __slots__ = (
        "_given",
        "_local",
        "_lock_timeout",
        "_on_error",
        "_prefix",
        "_slot_lease",
        "_timeout",
        "_url",
        "_where",
    )

    def __init__(
        self,
        url_or_client: str | aioredis.Redis,
        *,
        prefix: str = "lacale",
        on_redis_error: OnRedisError = "fail",
        lock_timeout: float = 30.0,
        slot_lease: float = 60.0,
        timeout: float = 5.0,
    ) -> None:
        if isinstance(url_or_client, str):
            if not url_or_client.startswith(_SCHEMES):
                start = url_start(url_or_client)
                got = f"it starts with {start!r}" if start else "it has no scheme"
                raise ConfigurationError(
                    f"Redis URL must start with redis://, rediss:// or unix://; {got}"
                )
            where = redact_redis_url(url_or_client)
            self._url: str | None = url_or_client
            self._given: aioredis.Redis | None = None
        elif isinstance(url_or_client, aioredis.Redis):
            where = _client_address(url_or_client)
            self._url = None
            self._given = url_or_client
        else:
            raise ConfigurationError(
                "RedisBackend needs a redis:// URL or a redis.asyncio.Redis client, "
                f"not {type(url_or_client).__name__}"
            )
        if not (isinstance(prefix, str) and prefix and not set(prefix) & set("{}*?[] ")):
            raise ConfigurationError(
                f"prefix must be a non-empty string without braces, spaces or glob characters, "
                f"not {describe(prefix)}"
            )
        if on_redis_error not in ("fail", "local"):
            raise ConfigurationError(
                f"on_redis_error must be 'fail' or 'local', not {describe(on_redis_error)}"
            )
        self._where = where
        self._prefix = prefix
        self._on_error: OnRedisError = on_redis_error
        self._lock_timeout = check_duration(lock_timeout, "lock_timeout")
        self._slot_lease = check_duration(slot_lease, "slot_lease")
        self._timeout = check_duration(timeout, "timeout")
        self._local = LocalBackend()
        self._life = Lifecycle(
            "RedisBackend",
            how_to_open="'async with RedisBackend(...) as backend:' or 'await backend.open()' "
            "before opening a client with it",
            after_close="create a new one",
        )
        self._opened: RedisLink | None = None

    @property
    def prefix(self) -> str:
        """First part of every Redis key."""
        return self._prefix

    @property
    def on_redis_error(self) -> OnRedisError:
        """``"fail"`` or ``"local"``: what a Redis failure at run time does."""
        return self._on_error

    @property
    def degraded(self) -> bool:
        """True once Redis failed under ``"local"``: this process limits and caches alone."""
        return self._opened is not None and self._opened.policy.degraded

    @property
    def client(self) -> aioredis.Redis:
        """The Redis client in use.

        Raises:
            ClientStateError: The backend is not open.
        """
        return self._require_open().client

    async def open(self) -> RedisBackend:
        """Connect and check that Redis answers ``PING``; ``async with`` calls this for you.

        Returns:
            The backend itself.

        Raises:
            BackendError: Redis is down, unreachable, or refused the credentials (the message
                names the server with its password redacted).
            ConfigurationError: The URL cannot be parsed.
            ClientStateError: Already open, or closed (backends are not reusable).
        """
        return await super().open()

    async def _start(self) -> RedisLink:
        client = self._given if self._given is not None else self._connect()
        password = client.connection_pool.connection_kwargs.get("password")
        policy = FailurePolicy(
            self._on_error,
            where=self._where,
            secret=password if isinstance(password, str) else None,
            opaque=self._url is not None and redis_url_is_malformed(self._url),
        )
        try:
            await asyncio.wait_for(client.ping(), self._timeout)
        except REDIS_ERRORS as exc:
            if self._given is None:
                await client.aclose()
            raise BackendError(
                f"cannot reach Redis at {self._where}: {policy.describe(exc)}; is redis-server "
                "running and the URL (host, port, password) right?"
            ) from None
        await self._check_eviction(client)
        return RedisLink(
            client,
            prefix=self._prefix,
            policy=policy,
            lease=self._slot_lease,
            lock_timeout=self._lock_timeout,
        )

    async def _check_eviction(self, client: aioredis.Redis) -> None:
        """Warn when Redis may evict keys: the limiter's would go, and the fleet overspend."""
        try:
            reply = await asyncio.wait_for(client.config_get("maxmemory-policy"), self._timeout)
        except REDIS_ERRORS:
            return  # CONFIG is often disabled on managed Redis: nothing to tell then
        policy = reply.get("maxmemory-policy") if isinstance(reply, dict) else None
        if isinstance(policy, bytes):
            policy = policy.decode(errors="replace")
        if isinstance(policy, str) and policy != "noeviction":
            logger.warning(
                "Redis at %s evicts keys (maxmemory-policy %r): it may evict the limiter and "
                "key-budget keys, and the fleet would then send more than its limits; use "
                "noeviction",
                self._where,
                policy[:40],
            )

    def _connect(self) -> aioredis.Redis:
        assert self._url is not None
        try:
            return aioredis.Redis.from_url(
                self._url,
                socket_timeout=self._timeout,
                socket_connect_timeout=self._timeout,
                # One quick retry rides out a blip; more would stall every request.
                retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), 1),
            )
        except ValueError:
            # redis-py's text quotes pieces of the URL, which may be pieces of the password.
            raise ConfigurationError(
                f"invalid Redis URL {self._where!r}: redis-py cannot parse it; check the "
                "host, port and database number, and percent-encode any @ : / ? # % in the "
                "user name and password"
            ) from None

    async def _stop(self, link: RedisLink) -> None:
        # A client passed in by the caller is left open: the caller owns it.
        await link.close(grace=self._timeout)
        if self._given is None:
            try:
                await link.client.aclose()
            except REDIS_ERRORS as exc:
                logger.debug("closing the Redis connection failed: %s", type(exc).__name__)

    def limiter(
        self, *, scope: str, endpoint: str, rates: Sequence[Rate], clock: Clock
    ) -> RateLimiter:
        """Return the limiter enforcing ``rates`` on ``endpoint`` for ``scope``, in Redis.

        Args:
            scope: Opaque key-and-origin scope.
            endpoint: The endpoint name.
            rates: The ``(calls, period)`` pairs; every process should configure the same.
            clock: Drives only the in-process fallback (Redis time drives the shared window).

        Returns:
            A :class:`RedisLimiter`.

        Raises:
            ClientStateError: The backend is not open.
            ConfigurationError: A rate is invalid.
        """
        link = self._require_open()
        fallback = self._local.limiter(scope=scope, endpoint=endpoint, rates=rates, clock=clock)
        return RedisLimiter(
            link,
            scope=scope,
            endpoint=endpoint,
            rates=rates,
            fallback=fallback,
            clock=clock,
            mirror=fallback.log if isinstance(fallback, WindowLimiter) else None,
        )

    def key_ledger(self, *, scope: str, clock: Clock, store: Path | None) -> RedisLedger:
        """Return the key-wide budget of ``scope``, kept in Redis for the whole fleet.

        Args:
            scope: Opaque key-and-origin scope.
            clock: Drives only the in-process mirror used after a Redis failure under
                ``"local"`` (Redis time drives the shared windows).
            store: Ignored: the fleet's one shared store is Redis (``quota_store`` does not
                apply).

        Returns:
            A :class:`RedisLedger`.

        Raises:
            ClientStateError: The backend is not open.
        """
        link = self._require_open()
        return RedisLedger(link, scope=scope, mirror=MemoryLedger(wall_clock(clock)))

    def cache(self, *, scope: str, namespace: str, max_entries: int, clock: Clock) -> Cache[Any]:
        """Return the shared cache of ``namespace`` for ``scope``.

        Args:
            scope: Opaque key-and-origin scope.
            namespace: ``"search"`` or ``"meta"``; another namespace, whose values the
                backend cannot encode, gets an in-process cache.
            max_entries: Bound of the in-process fallback (Redis entries expire by TTL).
            clock: Drives only the in-process fallback.

        Returns:
            A :class:`RedisCache` (or a :class:`MemoryCache` for an unknown namespace).

        Raises:
            ClientStateError: The backend is not open.
            ConfigurationError: ``max_entries`` is not an int >= 1.
        """
        link = self._require_open()
        fallback: MemoryCache[Any] = MemoryCache(max_entries=max_entries, clock=clock)
        codec = CODECS.get(namespace)
        if codec is None:
            logger.debug("no Redis codec for cache namespace %r: kept in process", namespace)
            return fallback
        return RedisCache(link, scope=scope, namespace=namespace, codec=codec, fallback=fallback)

    def __repr__(self) -> str:
        return (
            f"RedisBackend({self._where!r}, prefix={self._prefix!r}, "
            f"on_redis_error={self._on_error!r}, state={self.state.value!r})"
        )
