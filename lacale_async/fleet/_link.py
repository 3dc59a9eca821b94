"""The connection a RedisBackend shares with its limiters and caches, and its failure policy."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from .._errors import BackendError, ClientStateError

__all__ = [
    "REDIS_ERRORS",
    "OnRedisError",
    "RedisLink",
    "redact_redis_url",
    "redis_url_is_malformed",
]

logger = logging.getLogger("lacale_async.fleet")

T = TypeVar("T")

OnRedisError = Literal["fail", "local"]
"""What a Redis failure at run time does: raise :class:`BackendError`, or go local."""

# redis-py wraps socket errors in its own classes, but a timeout or a reset can still surface
# as the builtin ones depending on where it strikes (asyncio.TimeoutError is distinct on 3.10).
REDIS_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError, asyncio.TimeoutError)


def redis_url_is_malformed(url: str) -> bool:
    """Tell whether ``url`` has an ``@`` beyond its network location, or does not split at all.

    ``redis://:pa#ss@host`` splits as the network location ``:pa`` and the fragment
    ``ss@host``: an unencoded ``#``, ``?`` or ``/`` in a password moves part of it, and the
    ``@``, out of the user part, where neither a redaction nor redis-py expects it.

    Args:
        url: Any string given as a Redis URL.

    Returns:
        True when the user part cannot be trusted to hold the whole password.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return True
    _, sep, rest = url.partition("://")
    return bool(sep) and rest.rfind("@") >= len(parts.netloc)


def redact_redis_url(url: str) -> str:
    """Return a Redis URL with its password (in the user part or the query) replaced by ``***``.

    Args:
        url: ``redis://user:password@host:6379/0``, ``rediss://...``, ``unix://...``.

    Returns:
        The URL, safe to log or to put in an exception message. A user part without a colon
        is redacted whole: ``redis://secret@host`` would otherwise show a bare password. In a
        malformed URL (see :func:`redis_url_is_malformed`), everything between ``://`` and the
        last ``@`` is redacted.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable Redis URL>"
    scheme, sep, rest = url.partition("://")
    if sep and rest.rfind("@") >= len(parts.netloc):
        # Cut at the last "@": whatever precedes it may be a piece of the password.
        after = rest.rpartition("@")[2]
        shown = redact_redis_url(f"{scheme}://{after}")
        return f"{scheme}://***@{shown.partition('://')[2]}"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}:***@{host}" if colon else f"***@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, "***" if k.lower() == "password" else v) for k, v in pairs], safe="*"
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


class RedisLink:
    """One Redis client, the keys' prefix, and what to do when Redis fails.

    The degraded state is shared by every limiter and cache of the backend: once Redis failed
    under ``on_redis_error="local"``, all of them serve this process locally from then on, so
    a flapping Redis cannot make one process alternate between two budgets.

    Args:
        client: The connected client.
        prefix: First part of every key.
        on_error: ``"fail"`` or ``"local"``.
        where: The server's redacted address, for messages.
        secret: The password, scrubbed from any error text shown to a user.
        opaque: Show only the type of Redis errors, never their text: the URL was malformed,
            so the host or user redis-py parsed out of it may be a piece of the password.
        lease: Seconds a rate-limit slot may stay in flight before it counts as finished.
        lock_timeout: Seconds a cache fill lock lives.
    """

    __slots__ = (
        "_closed",
        "_degraded",
        "_opaque",
        "_secret",
        "_tasks",
        "client",
        "lease",
        "lock_timeout",
        "on_error",
        "prefix",
        "where",
    )

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str,
        on_error: OnRedisError,
        where: str,
        secret: str | None,
        lease: float,
        lock_timeout: float,
        opaque: bool = False,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.on_error: OnRedisError = on_error
        self.where = where
        self.lease = lease
        self.lock_timeout = lock_timeout
        self._secret = secret
        self._opaque = opaque
        self._degraded = False
        self._closed = False
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def degraded(self) -> bool:
        """True once Redis failed under ``"local"``: this process no longer uses Redis."""
        return self._degraded

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

    def describe(self, exc: BaseException) -> str:
        """Return ``exc`` as text, without the password."""
        if self._opaque:
            return f"{type(exc).__name__} (details hidden: the Redis URL is malformed)"
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if self._secret:
            text = text.replace(self._secret, "***")
        return text

    def failed(self, exc: BaseException, doing: str) -> None:
        """Apply the failure policy to a Redis error.

        Under ``"local"``, the first failure logs one WARNING and degrades the backend; the
        caller then serves the request from its in-process fallback.

        Args:
            exc: What redis-py raised.
            doing: What was being done, for the message ("waiting for a search slot").

        Raises:
            BackendError: Under ``"fail"``, always.
        """
        text = self.describe(exc)
        if self.on_error == "fail":
            raise BackendError(f"Redis at {self.where} failed while {doing}: {text}") from exc
        if not self._degraded:
            self._degraded = True
            logger.warning(
                "Redis at %s failed while %s (%s); on_redis_error='local': this process now "
                "rate-limits and caches on its own, so other processes using the same key no "
                "longer share its budget",
                self.where,
                doing,
                text,
            )

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Run ``coro`` as a task the backend keeps track of (and waits for when closing)."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._forget)
        return task

    def _forget(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled():
            # Retrieved so asyncio does not log "exception never retrieved": the owner already
            # handled (or deliberately ignored) the failure.
            task.exception()

    async def close(self, grace: float) -> None:
        """Mark the link closed and give background clean-ups ``grace`` seconds to finish."""
        self._closed = True
        tasks = list(self._tasks)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
