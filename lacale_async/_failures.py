"""What an aiohttp failure means, said in the transport's errors without the key or its URL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp
from aiohttp.http_exceptions import ContentEncodingError, HttpProcessingError
from yarl import URL

from ._errors import ConnectError, RequestTimeoutError, TransportError

__all__ = ["Failures"]


class Failures:
    """The wording of one transport's failures: its origin and timeouts are in the messages.

    Args:
        origin: The origin requests go to (named when no connection can be made).
        connect_timeout: Seconds a connection may take.
        timeout: Seconds a whole request may take.
    """

    __slots__ = ("_connect_timeout", "_origin", "_timeout")

    def __init__(self, origin: URL, connect_timeout: float, timeout: float) -> None:
        self._origin = origin
        self._connect_timeout = connect_timeout
        self._timeout = timeout

    def describe(
        self, exc: BaseException, method: str, shown: str, scrub: Callable[[str], str]
    ) -> TransportError:
        """Say what an aiohttp failure means, without the key (nor aiohttp's URL) in it."""
        if isinstance(exc, aiohttp.ClientConnectorError):
            return ConnectError(f"cannot connect to {self._origin}: {scrub(str(exc.os_error))}")
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            return ConnectError(
                f"cannot connect to {self._origin}: no connection within "
                f"{self._connect_timeout:g} s"
            )
        if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
            return RequestTimeoutError(
                f"{method} {shown} did not complete within {self._timeout:g} s"
            )
        # aiohttp's parser errors read "400, message:\n  ...": its own code, never the server's
        # status, and an indented text; their message alone, on one line.
        cause = exc.__cause__
        encoding = _encoding_error(exc)
        if encoding is not None:
            # A Content-Encoding the body does not match, or one aiohttp cannot decode.
            return TransportError(
                f"{method} {shown}: the response body could not be decoded "
                f"({scrub(_one_line(encoding.message))})"
            )
        if isinstance(exc, aiohttp.ClientPayloadError):
            detail = cause.message if isinstance(cause, HttpProcessingError) else str(exc)
            return TransportError(
                f"{method} {shown}: the response body was cut short ({scrub(_one_line(detail))})"
            )
        if isinstance(exc, aiohttp.ClientResponseError) and isinstance(cause, HttpProcessingError):
            # A head aiohttp cannot parse: a bad status line, header or framing.
            detail = scrub(_one_line(exc.message)) or type(exc).__name__
            return TransportError(
                f"{method} {shown} failed: the answer is not valid HTTP: {detail}"
            )
        # Server disconnects, resets, malformed HTTP: the message names the failure.
        detail = scrub(str(exc)) or type(exc).__name__
        return TransportError(f"{method} {shown} failed: {detail}")


def _encoding_error(exc: BaseException) -> ContentEncodingError | None:
    """The ContentEncodingError behind an aiohttp error: its body's, or its head's (twice
    wrapped: in an HttpProcessingError, then a ClientResponseError)."""
    cause = exc.__cause__
    for _ in range(3):
        if cause is None or isinstance(cause, ContentEncodingError):
            return cause
        cause = cause.__cause__
    return None


def _one_line(text: str) -> str:
    """aiohttp's multi-line parser message on one line, without its caret line ("    ^")."""
    return " ".join(
        word for line in text.splitlines() if line.strip() != "^" for word in line.split()
    )
