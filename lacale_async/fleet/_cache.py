"""``RedisCache``: search and meta answers shared by every process of one scope.

Entries are stored encoded (see :mod:`._codec`) with Redis's own expiry (``SET ... PX``), so
the TTL holds on the Redis clock and an expired entry is never served. There is no LRU bound
in Redis: every entry expires with its TTL. Do not cap memory with an evicting
``maxmemory-policy`` on the Redis that holds the limiter and key-budget keys: they carry TTLs
too, and evicting them forgets requests already sent, so the fleet would overspend (a review
measured 6 requests in 0.19 s against ``search_rate=(3, 3.0)`` under ``volatile-lru``). Keep
``noeviction`` (Redis's default): a full Redis then refuses writes, which ``on_redis_error``
handles, instead of forgetting requests.

:meth:`RedisCache.fill` makes one process fetch a missing answer while the others wait for it:
a lock (``SET NX PX lock_timeout`` in a script) elects the fetcher; the others poll for the
value with a growing delay, and take the lock themselves once it is free without a value (the
holder failed, or its answer was not cacheable).

The holder renews its lock (a third of ``lock_timeout``) for as long as its fetch runs, which
includes waiting for the shared rate limiter, so only a dead holder's lock expires: a waiter
never fetches a second time just because the first fetch queued longer than ``lock_timeout``.
Every lock operation compares the holder's token in a script: a holder that lost its lock (say
Redis was unreachable while it should have renewed) never extends nor deletes someone else's,
and taking the lock is idempotent, so redis-py resending a command whose reply was lost finds
the lock already ours instead of taken. Taking the lock is shielded from cancellation, like a
rate-limit slot: a caller cancelled while the command is in flight gives the lock back.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import secrets
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Generic, TypeVar

from .._cache import MemoryCache
from ._codec import Codec, CodecError
from ._failure import REDIS_ERRORS, wrong_type
from ._link import RedisLink

__all__ = ["RedisCache"]

logger = logging.getLogger("lacale_async.fleet")

V = TypeVar("V")

# Polling delays of a process waiting for another one's fetch: fast at first (a search takes
# tens of milliseconds), then slower so a long wait costs Redis a few calls per second.
_FIRST_POLL = 0.02
_MAX_POLL = 0.25
_SCAN_BATCH = 500

# KEYS: 1 lock. ARGV: 1 token, 2 lifetime (ms). Returns 1 when the lock is ours: taken now, or
# already ours (the same call resent by redis-py after a lost reply), else 0.
_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 1
end
return 0
"""

# KEYS: 1 lock. ARGV: 1 token, 2 lifetime (ms). Extends the lock only if it is still ours.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

# KEYS: 1 lock. ARGV: 1 token. Deletes the lock only if it is still ours.
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


class RedisCache(Generic[V]):
    """A :class:`Cache` in Redis, shared by every process using the same scope.

    Built by :meth:`RedisBackend.cache`, not directly. Expiry uses Redis's clock, not the
    client's; ``max_entries`` does not apply (entries expire with their TTL).

    Args:
        link: The backend's connection and failure policy.
        scope: The opaque key-and-origin scope.
        namespace: What the cache holds (``"search"``, ``"meta"``).
        codec: How values are stored.
        fallback: The in-process cache used once the backend has gone local.
    """

    __slots__ = (
        "_codec",
        "_fallback",
        "_link",
        "_lock_ms",
        "_lock_script",
        "_namespace",
        "_renew_script",
        "_scope",
        "_unlock_script",
    )

    def __init__(
        self,
        link: RedisLink,
        *,
        scope: str,
        namespace: str,
        codec: Codec[V],
        fallback: MemoryCache[V],
    ) -> None:
        self._link = link
        self._scope = scope
        self._namespace = namespace
        self._codec = codec
        self._fallback = fallback
        self._lock_ms = max(1, math.ceil(link.lock_timeout * 1000))
        self._lock_script = link.client.register_script(_LOCK)
        self._renew_script = link.client.register_script(_RENEW)
        self._unlock_script = link.client.register_script(_UNLOCK)

    @property
    def namespace(self) -> str:
        """What the cache holds."""
        return self._namespace

    @property
    def fallback(self) -> MemoryCache[V]:
        """The in-process cache used after Redis failed under ``on_redis_error="local"``."""
        return self._fallback

    def _key(self, kind: str, key: str) -> str:
        # Hashed: client keys hold free text (search queries) of any length.
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        return self._link.key(self._scope, kind, self._namespace, digest)

    def _local(self) -> bool:
        self._link.check_open()
        return self._link.policy.degraded

    async def get(self, key: str) -> V | None:
        """Return the live value stored under ``key``, or None.

        An entry written by another SDK version, or corrupt, counts as absent and is removed.

        Args:
            key: The cache key.

        Returns:
            The decoded value, or None.

        Raises:
            BackendError: Redis failed and ``on_redis_error`` is ``"fail"``.
            ClientStateError: The backend was closed.
        """
        if self._local():
            return await self._fallback.get(key)
        rkey = self._key("c", key)
        try:
            data = await self._link.client.get(rkey)
        except REDIS_ERRORS as exc:
            # Not UTF-8 for a decoding client, or another program's list at the key (an
            # entry no SDK wrote): corrupt, dropped below; not a failure of Redis.
            if not isinstance(exc, UnicodeDecodeError) and not wrong_type(exc):
                self._link.policy.failed(exc, f"reading the {self._namespace} cache")
                return await self._fallback.get(key)
            data = b""
        if data is None:
            return None
        try:
            return self._codec.decode(data)
        except CodecError as exc:
            logger.debug("dropping an unreadable %s cache entry: %s", self._namespace, exc)
            await self.delete(key)
            return None

    async def set(self, key: str, value: V, ttl: float) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds, for every process.

        Args:
            key: The cache key.
            value: The value, encoded before it is stored.
            ttl: Seconds to keep it (rounded up to the millisecond); ``<= 0`` or NaN stores
                nothing and forgets any older value under ``key``.

        Raises:
            BackendError: Redis failed and ``on_redis_error`` is ``"fail"``.
            ClientStateError: The backend was closed.
        """
        if not ttl > 0:
            await self.delete(key)
            return
        if self._local():
            await self._fallback.set(key, value, ttl)
            return
        data = self._codec.encode(value)
        millis = max(1, math.ceil(ttl * 1000)) if math.isfinite(ttl) else None
        try:
            await self._link.client.set(self._key("c", key), data, px=millis)
        except REDIS_ERRORS as exc:
            self._link.policy.failed(exc, f"writing the {self._namespace} cache")
            await self._fallback.set(key, value, ttl)

    async def delete(self, key: str) -> None:
        """Forget ``key`` in every process (no error when absent).

        Args:
            key: The cache key.

        Raises:
            BackendError: Redis failed and ``on_redis_error`` is ``"fail"``.
            ClientStateError: The backend was closed.
        """
        await self._fallback.delete(key)
        if self._local():
            return
        try:
            await self._link.client.delete(self._key("c", key))
        except REDIS_ERRORS as exc:
            self._link.policy.failed(exc, f"deleting from the {self._namespace} cache")

    async def clear(self) -> None:
        """Forget every entry of this scope and namespace (scanned by key prefix).

        Raises:
            BackendError: Redis failed and ``on_redis_error`` is ``"fail"``.
            ClientStateError: The backend was closed.
        """
        await self._fallback.clear()
        if self._local():
            return
        client = self._link.client
        pattern = _glob_escape(self._link.key(self._scope, "c", self._namespace)) + ":*"
        try:
            batch: list[bytes | str] = []
            async for rkey in client.scan_iter(match=pattern, count=_SCAN_BATCH):
                batch.append(rkey)
                if len(batch) >= _SCAN_BATCH:
                    await client.delete(*batch)
                    batch.clear()
            if batch:
                await client.delete(*batch)
        except REDIS_ERRORS as exc:
            self._link.policy.failed(exc, f"clearing the {self._namespace} cache")

    def fill(self, key: str) -> AbstractAsyncContextManager[V | None]:
        """Elect one process to fetch ``key``; yield the value if another one stored it.

        Yields None to the process holding the lock (it fetches, calls :meth:`set`, and the
        lock is released on exit; it is renewed meanwhile, however long the fetch queues) and
        yields the value to a process that saw it appear while waiting. A waiter waits while
        a live holder fetches; a dead holder's lock expires after ``lock_timeout``.

        Args:
            key: The cache key about to be fetched.

        Returns:
            An async context manager yielding the stored value or None.
        """
        return self._fill(key)

    @asynccontextmanager
    async def _fill(self, key: str) -> AsyncIterator[V | None]:
        if self._local():
            yield None
            return
        lock = self._key("lock", key)
        token = secrets.token_hex(12)
        value, held = await self._wait_turn(key, lock, token)
        if value is not None:
            yield value
            return
        if not held:
            yield None
            return
        renewer = asyncio.ensure_future(self._renew(lock, token))
        try:
            yield None
        finally:
            renewer.cancel()
            await self._unlock(lock, token)

    async def _wait_turn(self, key: str, lock: str, token: str) -> tuple[V | None, bool]:
        """Return ``(value, False)`` once stored by another, or ``(None, True)`` with the lock.

        ``(None, False)`` means: fetch without the lock (the backend went local). There is no
        deadline: a live holder renews its lock until it has stored the value or given up, and
        fetching meanwhile would only queue a second request behind it on the shared limiter.
        """
        link = self._link
        delay = _FIRST_POLL
        while True:
            value = await self.get(key)
            if value is not None:
                return value, False
            if self._local():
                return None, False
            try:
                locked = await self._lock(lock, token)
            except REDIS_ERRORS as exc:
                link.policy.failed(exc, f"locking a {self._namespace} cache entry")
                return None, False
            if locked:
                # The previous holder may have stored the value and unlocked between our read
                # and our lock: read again, or this process would fetch it a second time.
                try:
                    value = await self.get(key)
                except BaseException:
                    await self._unlock(lock, token)
                    raise
                if value is None:
                    return None, True
                await self._unlock(lock, token)
                return value, False
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, _MAX_POLL)

    async def _lock(self, lock: str, token: str) -> bool:
        """Take the lock (or find it already ours); a cancelled caller gives it back."""
        link = self._link
        link.check_open()
        # Shielded: cancelling the caller must not lose a lock the script already took.
        call = link.tasks.spawn(self._lock_script(keys=[lock], args=[token, self._lock_ms]))
        try:
            return int(await asyncio.shield(call)) == 1
        except asyncio.CancelledError:
            link.tasks.spawn(self._unlock_when_done(call, lock, token))
            raise

    async def _unlock_when_done(self, call: asyncio.Task[object], lock: str, token: str) -> None:
        # A failed call may have taken the lock all the same: the unlock only deletes it if
        # ours. A failed unlock leaves it to expire on its own.
        with contextlib.suppress(*REDIS_ERRORS):
            await call
        with contextlib.suppress(*REDIS_ERRORS):
            await self._unlock_script(keys=[lock], args=[token])

    async def _renew(self, lock: str, token: str) -> None:
        """Keep the lock alive while its holder runs; cancelled when the holder leaves."""
        link = self._link
        interval = link.lock_timeout / 3
        while True:
            await asyncio.sleep(interval)
            if link.closed or link.policy.degraded:
                return
            # Shielded so the holder's exit never cuts a command in the middle.
            call = link.tasks.spawn(self._renew_script(keys=[lock], args=[token, self._lock_ms]))
            try:
                kept = await asyncio.shield(call)
            except REDIS_ERRORS as exc:
                # Retried at the next tick; two more chances before the lock would expire.
                logger.debug(
                    "renewing a %s cache lock failed: %s",
                    self._namespace,
                    link.policy.describe(exc),
                )
                continue
            if int(kept) != 1:
                logger.debug("a %s cache lock expired before its holder ended", self._namespace)
                return

    async def _unlock(self, lock: str, token: str) -> None:
        link = self._link
        if link.closed or link.policy.degraded:
            # The lock expires on its own: a closed client must not reconnect, and a process
            # gone local no longer talks to Redis (its one warning was already logged).
            return
        # Shielded: a cancelled holder must still let the waiters take over at once.
        call = link.tasks.spawn(self._unlock_script(keys=[lock], args=[token]))
        try:
            await asyncio.shield(call)
        except REDIS_ERRORS as exc:
            logger.warning(
                "Redis at %s failed while unlocking a %s cache entry (%s); other processes "
                "wait for the lock to expire",
                link.policy.where,
                self._namespace,
                link.policy.describe(exc),
            )

    def __repr__(self) -> str:
        return f"RedisCache(namespace={self._namespace!r})"
