"""What a Redis failure does: raise :class:`BackendError`, or degrade the backend to local."""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Literal

from redis.exceptions import RedisError, ResponseError

from .._errors import BackendError
from .._options import describe

__all__ = [
    "REDIS_ERRORS",
    "FailurePolicy",
    "MalformedReply",
    "OnRedisError",
    "reply_items",
    "reply_number",
    "reply_text",
    "wrong_type",
]

logger = logging.getLogger("lacale_async.fleet")

OnRedisError = Literal["fail", "local"]
"""What a Redis failure at run time does: raise :class:`BackendError`, or go local."""

# redis-py wraps socket errors in its own classes, but a timeout or a reset can still surface
# as the builtin ones depending on where it strikes (asyncio.TimeoutError is distinct on 3.10).
# What a Redis call and the reading of its reply may raise. redis-py's reply parsers (and the
# fleet's own, on a reply of the wrong shape) raise plain ValueError, TypeError, IndexError or
# AttributeError on a reply they did not expect: those are Redis failures too, never an
# exception of the caller's.
REDIS_ERRORS: tuple[type[BaseException], ...] = (
    RedisError,
    OSError,
    asyncio.TimeoutError,
    ValueError,
    TypeError,
    IndexError,
    AttributeError,
)


class MalformedReply(RedisError):
    """Redis answered what no fleet writes (a key another program corrupted), or a reply of
    the wrong shape: handled as any Redis failure, through ``on_redis_error``."""


# The longest wait a fleet script ever answers: a key that asks for more was not written by one.
_MAX_WAIT = 2 * 366 * 86_400.0


def reply_text(value: object) -> str:
    """Return a reply item as text (bytes unless the client decodes responses)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def wrong_type(exc: BaseException) -> bool:
    """Tell whether Redis refused a command for the type of the value at its key."""
    return isinstance(exc, ResponseError) and str(exc).startswith("WRONGTYPE")


def reply_items(reply: object, count: int) -> list[object]:
    """Return a fleet script's reply, which must be a list of ``count`` items.

    Raises:
        MalformedReply: Another shape: a bytes reply indexed as a list would read its bytes
            as numbers (``b"OK"`` a refusal with a 75 s wait).
    """
    if not isinstance(reply, list) or len(reply) != count:
        raise MalformedReply(f"a fleet script answered {describe(reply)}, not {count} items")
    return reply


def reply_number(value: object, *, wait: bool = False) -> float:
    """Return a number a fleet script answered, refusing what no fleet writes.

    Args:
        value: The reply item.
        wait: The number is seconds to wait: more than two years is refused too.

    Raises:
        MalformedReply: Not a finite number (``inf``, ``nan``, junk), or a wait that long.
    """
    try:
        number = float(reply_text(value))
    except (ValueError, UnicodeDecodeError):
        number = math.nan
    if not math.isfinite(number) or (wait and number > _MAX_WAIT):
        raise MalformedReply(f"a fleet script answered {describe(value)}, not a usable number")
    return number


class FailurePolicy:
    """How one backend answers a Redis failure, and whether it has gone local.

    The degraded state is shared by every limiter and cache of the backend: once Redis failed
    under ``on_redis_error="local"``, all of them serve this process locally from then on, so
    a flapping Redis cannot make one process alternate between two budgets.

    Args:
        on_error: ``"fail"`` or ``"local"``.
        where: The server's redacted address, for messages.
        secret: The password, scrubbed from any error text shown to a user.
        opaque: Show only the type of Redis errors, never their text: the URL was malformed,
            so the host or user redis-py parsed out of it may be a piece of the password.
    """

    __slots__ = ("_degraded", "_opaque", "_secret", "on_error", "where")

    def __init__(
        self, on_error: OnRedisError, *, where: str, secret: str | None, opaque: bool
    ) -> None:
        self.on_error: OnRedisError = on_error
        self.where = where
        self._secret = secret
        self._opaque = opaque
        self._degraded = False

    @property
    def degraded(self) -> bool:
        """True once Redis failed under ``"local"``: this process no longer uses Redis."""
        return self._degraded

    def describe(self, exc: BaseException) -> str:
        """Return ``exc`` as text, without the password."""
        if self._opaque:
            return f"{type(exc).__name__} (details hidden: the Redis URL is malformed)"
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if self._secret:
            text = text.replace(self._secret, "***")
        return text

    def failed(self, exc: BaseException, doing: str) -> None:
        """Apply the policy to a Redis error.

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
            # Not chained: redis-py's own text (printed under "direct cause" in a traceback)
            # may hold the password, or under opaque a piece of it. The message keeps the
            # type and the scrubbed text.
            raise BackendError(f"Redis at {self.where} failed while {doing}: {text}") from None
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
