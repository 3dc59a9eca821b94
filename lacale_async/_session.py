"""The aiohttp sessions of one transport: their options and the one-send middleware.

A client has one session with its key as a default header, so that a request adds no header
of its own (aiohttp's cheapest path), and, with header auth, a bare twin without it for the
requests that must go without the key (a token link's download). The twin borrows the keyed
session's connections and cookies.
"""

from __future__ import annotations

import aiohttp

__all__ = ["open_sessions"]


class _ResetNotResent(aiohttp.ClientError):
    """A connection reset that aiohttp must not re-send on its own (see :func:`_one_send`)."""

    def __init__(self, cause: aiohttp.ClientError) -> None:
        super().__init__(str(cause) or type(cause).__name__)


async def _one_send(
    req: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
) -> aiohttp.ClientResponse:
    """Client middleware: one network attempt per ``session.request``, never a hidden second.

    aiohttp re-sends an idempotent request once when its connection is reset
    (``retry_persistent_connection`` in its ``client.py``), inside the single limiter slot and
    key-budget unit the SDK granted, while the tracker may already have counted the first one.
    aiohttp runs middlewares per attempt, and re-sends only on ``ClientOSError`` or
    ``ServerDisconnectedError``: handing the reset back as another ``ClientError`` ends the
    request instead, and the SDK's own retry takes a new slot and unit. Connection failures
    (nothing sent) pass unchanged: they stay ``ConnectError``.
    """
    try:
        return await handler(req)
    except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError):
        raise
    except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError) as exc:
        raise _ResetNotResent(exc) from None


def open_sessions(
    headers: dict[str, str], auth_headers: dict[str, str], connect_timeout: float
) -> tuple[aiohttp.ClientSession, aiohttp.ClientSession]:
    """Return ``(keyed, bare)``: the same session when the key travels in no header.

    Must run inside the event loop that will use them.
    """
    connector = aiohttp.TCPConnector(ttl_dns_cache=300)
    keyed = _session(connect_timeout, {**headers, **auth_headers}, connector)
    if not auth_headers:
        return keyed, keyed
    # aiohttp cannot drop a session's default header for one request: a twin without it.
    return keyed, _session(connect_timeout, headers, connector, keyed.cookie_jar)


def _session(
    connect_timeout: float,
    headers: dict[str, str],
    connector: aiohttp.BaseConnector,
    cookie_jar: aiohttp.abc.AbstractCookieJar | None = None,
) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=connector,
        # The keyed session owns the connector; the bare twin only borrows it.
        connector_owner=cookie_jar is None,
        cookie_jar=cookie_jar,
        headers=headers,
        # A separate, shorter connect timeout makes a hung connect a ConnectError (nothing
        # was sent, safe to retry even for an upload) rather than an ambiguous timeout. The
        # whole request is bounded by _deadlines: aiohttp's total= costs timers per request.
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout),
        # Proxies from the environment would see the key; an explicit opt-in is safer.
        trust_env=False,
        raise_for_status=False,
        middlewares=(_one_send,),
    )
