"""Fault injection: make the sandbox fail the way the real tracker and Cloudflare do."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

import msgspec
from aiohttp import web

from .._endpoints import ENDPOINTS
from .._errors import ConfigurationError
from .._options import YEAR, check_number, describe, is_count
from .._validation import check_text
from ._checks import MAX_INT64, check_optional_count, check_printable, check_required_text

__all__ = [
    "CHALLENGE_PAGE",
    "CLOUDFLARE_521_PAGE",
    "Fault",
    "FaultInjector",
    "FaultKind",
    "answer_fault",
]

FaultKind = Literal["respond", "delay", "truncate", "drop"]
"""``respond``: a canned answer. ``delay``: wait, then answer normally. ``truncate``: promise
more bytes than are sent, then close. ``drop``: close the connection without answering."""

CLOUDFLARE_521_PAGE = """<!DOCTYPE html>
<html lang="en-US"><head><title>la-cale.space | 521: Web server is down</title></head>
<body><div id="cf-error-details"><h1>Web server is down</h1><span>Error code 521</span>
<p>The web server is not returning a connection. As a result, the web page is not displaying.</p>
<span>Cloudflare Ray ID: <strong>8f1d2c3b4a596877</strong></span></div></body></html>
"""
"""The HTML page Cloudflare serves when the origin is down."""

CHALLENGE_PAGE = """<!DOCTYPE html>
<html lang="en-US"><head><title>Just a moment...</title>
<meta http-equiv="refresh" content="390"></head>
<body><div class="main-wrapper"><h1>la-cale.space</h1>
<h2>Verifying you are human. This may take a few seconds.</h2>
<noscript>Enable JavaScript and cookies to continue</noscript></div></body></html>
"""
"""The Cloudflare "Just a moment..." browser challenge, served with status 200."""


@dataclass(frozen=True, slots=True)
class Fault:
    """One way for a request to go wrong; build it with the class methods.

    Attributes:
        kind: What happens (see :data:`FaultKind`).
        status: Status of a ``respond`` or ``truncate`` answer.
        body: Body of a ``respond`` answer; for ``truncate``, the bytes actually sent.
        content_type: Content type of the answer.
        headers: Extra headers (``Retry-After``...).
        delay: Seconds to wait (sandbox clock) before anything else happens.
        missing_bytes: For ``truncate``, how many promised bytes are never sent.
    """

    kind: FaultKind
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    missing_bytes: int = 0

    def __post_init__(self) -> None:
        # Checked where the fault is built: aiohttp refused a bad status, body or header only
        # when it answered, failing the request with a 500 instead of the test at this line.
        if self.kind not in get_args(FaultKind):
            raise ConfigurationError(
                f"kind must be one of {', '.join(get_args(FaultKind))}, not {describe(self.kind)}"
            )
        if not (is_count(self.status, 100) and self.status <= 599):
            raise ConfigurationError(
                f"status must be an HTTP status from 100 to 599, not {describe(self.status)}"
            )
        if not isinstance(self.body, bytes):
            raise ConfigurationError(f"body must be bytes, not {describe(self.body)}")
        check_printable(self.content_type, "content_type")
        if not isinstance(self.headers, Mapping):
            raise ConfigurationError(f"headers must be a mapping, not {describe(self.headers)}")
        for name, value in self.headers.items():
            check_printable(name, "a header name")
            check_printable(value, f"header {name}")
        check_number(self.delay, "delay", 0.0, YEAR, unit=" of seconds")
        check_optional_count(
            self.missing_bytes, "missing_bytes", most=MAX_INT64, error=ConfigurationError
        )

    @classmethod
    def respond(
        cls,
        status: int,
        body: bytes | bytearray | str = b"",
        *,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
    ) -> Fault:
        """Answer with exactly this status, body and headers.

        Raises:
            ConfigurationError: A status outside 100-599, a body neither bytes nor text (or
                text with lone surrogates), a header or content type that is not printable
                text, a delay that is not a number of seconds from 0 to a year.
        """
        if isinstance(body, str):
            body = check_required_text(body, "body", ConfigurationError).encode()
        elif isinstance(body, (bytearray, memoryview)):
            body = bytes(body)
        if headers is not None and not isinstance(headers, Mapping):
            raise ConfigurationError(f"headers must be a mapping, not {describe(headers)}")
        return cls("respond", status, body, content_type, dict(headers or {}), delay)

    @classmethod
    def error(cls, status: int = 500, message: str = "Erreur interne du serveur") -> Fault:
        """Answer ``status`` with a JSON ``{"error": message}`` body (500 by default).

        Raises:
            ConfigurationError: ``message`` is not text that can be encoded, or see
                :meth:`respond`.
        """
        check_required_text(message, "message", ConfigurationError)
        return cls.respond(status, msgspec.json.encode({"error": message}))

    @classmethod
    def cloudflare(cls, status: int = 521) -> Fault:
        """Answer with Cloudflare's HTML error page (521 "Web server is down" by default)."""
        return cls.respond(status, CLOUDFLARE_521_PAGE, content_type="text/html")

    @classmethod
    def unavailable(cls, retry_after: int | None = None) -> Fault:
        """Answer 503, with a ``Retry-After`` header when ``retry_after`` is given."""
        headers = _retry_after(retry_after)
        return cls.respond(503, '{"error": "Service indisponible"}', headers=headers)

    @classmethod
    def rate_limited(cls, retry_after: int | None = 5) -> Fault:
        """Answer 429, with ``Retry-After: retry_after`` unless it is None."""
        headers = _retry_after(retry_after)
        return cls.respond(429, '{"error": "Trop de requêtes"}', headers=headers)

    @classmethod
    def html_challenge(cls, status: int = 200) -> Fault:
        """Answer Cloudflare's browser challenge page instead of JSON (with 200, 403 or 503).

        Live, the challenge comes back as a 403 or 503 page when Cloudflare's anti-DDoS mode is
        on (JigSawFr/lacale-prowlarr-indexer, API_IMPROVEMENTS.md).
        """
        return cls.respond(status, CHALLENGE_PAGE, content_type="text/html")

    @classmethod
    def access_denied(cls) -> Fault:
        """Answer 403 ``{"error":"Access denied"}``: the live tracker blocking a client.

        Recorded by a Jackett user after heavy use (Jackett issue #16499, 2026-01).
        """
        return cls.respond(403, b'{"error":"Access denied"}')

    @classmethod
    def upload_rejected(cls, message: str = "Upload refusé") -> Fault:
        """Answer 200 ``{"success": false, "error": message}`` (an upload the tracker refused)."""
        check_required_text(message, "message", ConfigurationError)
        return cls.respond(200, msgspec.json.encode({"success": False, "error": message}))

    @classmethod
    def invalid_json(cls) -> Fault:
        """Answer 200 ``application/json`` with a body that is not JSON."""
        return cls.respond(200, b'[{"title": "Am\xc3\xa9lie", "guid": ')

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Wait ``seconds`` (sandbox clock), then answer normally."""
        return cls("delay", delay=seconds)

    @classmethod
    def truncated(
        cls, body: bytes = b'[{"title": "Le Fabuleux Destin', *, missing: int = 512
    ) -> Fault:
        """Send 200 with ``Content-Length`` ``missing`` bytes larger than ``body``, then close."""
        return cls("truncate", 200, body, missing_bytes=missing)

    @classmethod
    def drop(cls) -> Fault:
        """Close the connection without sending a single byte back."""
        return cls("drop")


def _retry_after(seconds: object) -> dict[str, str]:
    """Return the ``Retry-After`` header for ``seconds`` (none for None), checked first:
    str() of a huge int raised a raw ValueError."""
    checked = check_optional_count(seconds, "retry_after", most=MAX_INT64, error=ConfigurationError)
    return {} if checked is None else {"Retry-After": str(checked)}


@dataclass(slots=True)
class _Rule:
    fault: Fault
    endpoint: str | None
    path: str | None
    remaining: int | None


class FaultInjector:
    """Queued faults, consumed by matching requests in the order they were added."""

    def __init__(self) -> None:
        self._rules: list[_Rule] = []
        # Tests may queue faults from another thread than the server's loop.
        self._lock = threading.Lock()

    def add(
        self,
        fault: Fault,
        *,
        endpoint: str | None = None,
        path: str | None = None,
        times: int | None = 1,
    ) -> None:
        """Queue ``fault`` for the next matching requests.

        Args:
            fault: What to do.
            endpoint: Only requests to this endpoint ("search", "meta", "upload", "download").
            path: Only requests whose path starts with this.
            times: How many requests it hits; None hits every matching request until
                :meth:`clear`.

        Raises:
            ConfigurationError: ``fault`` is not a :class:`Fault`, ``endpoint`` not one of
                :data:`ENDPOINTS`, ``path`` not text, ``times`` not None or an int >= 1.
        """
        if not isinstance(fault, Fault):
            raise ConfigurationError(f"fault must be a Fault, not {describe(fault)}")
        if endpoint is not None and endpoint not in ENDPOINTS:
            raise ConfigurationError(
                f"endpoint must be None or one of {', '.join(ENDPOINTS)}, not {describe(endpoint)}"
            )
        check_text(path, "path", ConfigurationError)
        check_optional_count(times, "times", least=1, error=ConfigurationError)
        with self._lock:
            self._rules.append(_Rule(fault, endpoint, path, times))

    def take(self, endpoint: str | None, path: str) -> Fault | None:
        """Return the first fault matching this request and count it as used, or None."""
        with self._lock:
            for rule in self._rules:
                if (rule.endpoint is None or rule.endpoint == endpoint) and (
                    rule.path is None or path.startswith(rule.path)
                ):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                        if rule.remaining == 0:
                            self._rules.remove(rule)
                    return rule.fault
        return None

    @property
    def pending(self) -> int:
        """Return how many rules are still queued."""
        with self._lock:
            return len(self._rules)

    def clear(self) -> None:
        """Drop every queued fault."""
        with self._lock:
            self._rules.clear()


async def answer_fault(fault: Fault, request: web.Request) -> web.StreamResponse:
    """Produce the answer of a ``respond``, ``truncate`` or ``drop`` fault.

    Args:
        fault: The fault; not a ``delay`` one.
        request: The request being answered.

    Returns:
        The response; for ``drop`` and ``truncate`` the connection is already closed.
    """
    transport = request.transport
    if fault.kind == "drop":
        if transport is not None:
            transport.close()
        # Never sent: the transport is gone, aiohttp discards it quietly.
        return web.Response(status=499)
    if fault.kind == "truncate":
        response = web.StreamResponse(status=fault.status, headers=fault.headers)
        response.content_type = fault.content_type
        response.content_length = len(fault.body) + fault.missing_bytes
        await response.prepare(request)
        await response.write(fault.body)
        if transport is not None:
            transport.close()
        return response
    return web.Response(
        status=fault.status, body=fault.body, headers=fault.headers, content_type=fault.content_type
    )
