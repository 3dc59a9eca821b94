"""What every handler shares: the request context, JSON answers, authentication and limits."""

from __future__ import annotations

import contextvars
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
from aiohttp import web

from ._ratelimit import RateLimit, retry_after_header
from ._records import AuthVia
from ._state import SandboxState

__all__ = [
    "EXCHANGE",
    "STATE",
    "Exchange",
    "Reject",
    "admit",
    "admit_token",
    "charge",
    "json_response",
    "key_from_request",
]

STATE = web.AppKey("lacale_sandbox_state", SandboxState)
"""Where the application keeps its :class:`SandboxState`."""


@dataclass(slots=True)
class Exchange:
    """What the middleware and a handler share about the request in flight.

    Attributes:
        arrived_at: Arrival time on the sandbox clock; rate limits and the cache use it.
        endpoint: The endpoint name, or None for an unknown path.
        client_ip: The address rate limits are applied to.
        key: The key found so far (header, query, or the upload form), valid or not.
        auth_via: Where ``key`` was found.
        key_name: The key's name once it has been accepted.
        token_key: For a download through a token link, the name of the key the valid token
            was minted for (its requests count against that key), else None.
        charged: Whether the rate limiter has decided on this request yet.
        refused: The limiter's refusal (bucket and wait), when ``charged`` and refused.
    """

    arrived_at: float
    endpoint: str | None
    client_ip: str | None
    key: str | None
    auth_via: AuthVia | None
    key_name: str | None = None
    token_key: str | None = None
    charged: bool = False
    refused: tuple[tuple[str, str, str], float] | None = None

    def __repr__(self) -> str:
        # The key itself must never show up in a traceback or a log line.
        return f"Exchange(endpoint={self.endpoint!r}, key_name={self.key_name!r})"


# Handlers run in the middleware's task, so a context variable carries the exchange without
# storing anything on the request (string request keys warn on recent aiohttp versions).
EXCHANGE: contextvars.ContextVar[Exchange] = contextvars.ContextVar("lacale_sandbox_exchange")


class Reject(Exception):
    """Answer the request with ``{"error": message}``; raised anywhere below a handler."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def json_response(
    payload: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """Return ``payload`` as a UTF-8 JSON response."""
    return web.Response(
        status=status,
        body=msgspec.json.encode(payload),
        content_type="application/json",
        headers=headers,
    )


def key_from_request(request: web.Request) -> tuple[str | None, AuthVia | None]:
    """Find the key in ``X-Api-Key``, then ``?apikey=``, then the legacy ``?passkey=``.

    Returns:
        ``(key, where it was found)``, or ``(None, None)``.
    """
    header = request.headers.get("X-Api-Key", "").strip()
    if header:
        return header, "header"
    for param in ("apikey", "passkey"):
        value = request.query.get(param, "").strip()
        if value:
            return value, "apikey" if param == "apikey" else "passkey"
    return None, None


def charge(state: SandboxState, exchange: Exchange) -> None:
    """Let the rate limiter decide on the request at its arrival time, once.

    The middleware calls this before any latency so that requests are counted in the order
    they arrive, like the tracker does; :func:`admit` calls it for requests whose key was
    not known at arrival (a v1 upload's form passkey).

    Args:
        state: The sandbox.
        exchange: The request in flight; its ``charged`` and ``refused`` are set.
    """
    if exchange.charged:
        return
    endpoint = exchange.endpoint or "unknown"
    checks: list[tuple[tuple[str, str, str], RateLimit]] = []
    ip_limit = state.config.ip_limits.get(endpoint)
    if ip_limit is not None:
        checks.append((("ip", endpoint, exchange.client_ip or "?"), ip_limit))
    name = state.key_name(exchange.key) if exchange.key is not None else exchange.token_key
    key_limit = state.config.key_limits.get(endpoint)
    if name is not None and key_limit is not None:
        checks.append((("key", endpoint, name), key_limit))
    if name is not None and exchange.endpoint is not None:
        # The key-wide budget: every endpoint of one key together (live profile).
        for index, limit in enumerate(state.config.key_budget_limits):
            checks.append((("budget", str(index), name), limit))
    # Both windows are charged together or not at all. A request without a valid key only
    # touches the IP window: that is what slows down key guessing.
    exchange.refused = state.limiter.acquire(checks, exchange.arrived_at)
    exchange.charged = True


def _throttle(state: SandboxState, exchange: Exchange) -> None:
    """Answer 429 with ``Retry-After`` when the limiter refused the request at its arrival."""
    charge(state, exchange)
    refused = exchange.refused
    if refused is None:
        return
    (scope, _, _), wait = refused
    state.throttled[(exchange.endpoint or "unknown", scope)] += 1
    header = retry_after_header(wait)
    if scope == "budget":
        message = f"Quota de requêtes atteint pour cette clé API, réessayez dans {header} s"
    else:
        who = "IP" if scope == "ip" else "clé API"
        message = f"Trop de requêtes ({who}), réessayez dans {header} s"
    raise Reject(429, message, {"Retry-After": header})


def admit(state: SandboxState, exchange: Exchange) -> str:
    """Apply the IP limit, authenticate, then apply the key limits.

    Args:
        state: The sandbox.
        exchange: The request in flight.

    Returns:
        The name of the valid key (also stored on ``exchange``).

    Raises:
        Reject: 429 with ``Retry-After`` (limit), else 401 or 403 in the profile's words.
    """
    _throttle(state, exchange)
    live = state.config.profile == "live"
    if exchange.key is None:
        # Live wording: the one Jackett's and Prowlarr's definitions match ("API key manquant").
        raise Reject(401, "API key manquante" if live else "Clé API manquante")
    name = state.key_name(exchange.key)
    if name is None:
        # Live: 401 {"error": "Invalid API key"} (torrent-mate, 2026-05); documented: 403.
        raise Reject(*((401, "Invalid API key") if live else (403, "Clé API invalide")))
    exchange.key_name = name
    return name


def admit_token(state: SandboxState, exchange: Exchange) -> str:
    """Admit a download through a token link: limits first, then the token (no key needed).

    Returns:
        The name of the key the token was minted for.

    Raises:
        Reject: 429 (limit), or 401 for a missing, forged, expired or other torrent's token.
    """
    _throttle(state, exchange)
    if exchange.token_key is None:
        raise Reject(401, "Lien de téléchargement invalide ou expiré")
    exchange.key_name = exchange.token_key
    return exchange.token_key
