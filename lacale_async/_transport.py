"""The HTTP layer: aiohttp sessions (see ``_session``), auth, timeouts, size caps, errors.

Everything aiohttp can raise is turned into a :class:`TransportError` here, so the sender above
only ever sees responses or SDK errors. The API key is attached here and nowhere else, and a
redirect to another origin is never followed with it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from types import MappingProxyType
from typing import Literal

import aiohttp
import msgspec
from multidict import CIMultiDictProxy
from yarl import URL

from ._deadlines import Deadlines
from ._errors import (
    ClientStateError,
    LaCaleError,
    ResponseError,
    redact_url,
)
from ._failures import Failures
from ._secret import Secret
from ._session import open_sessions
from ._version import __version__

__all__ = ["NO_PARAMS", "AuthMode", "Params", "Response", "Transport"]

AuthMode = Literal["header", "query", "passkey"]
# A mapping, because it is what aiohttp/yarl encode fastest; a tuple value repeats the key.
Params = Mapping[str, str | tuple[str, ...]]

NO_PARAMS: Params = MappingProxyType({})
# What every hop of a request needs: whether it carries the key (its query parameters are
# added again on a redirect), the hook awaited before a redirect, the scrubber of the text its
# errors quote.
_Hops = tuple[bool, Callable[[], Awaitable[None]] | None, Callable[[str], str]]

logger = logging.getLogger("lacale_async")

_MAX_REDIRECTS = 3


_MAX_TARGETS = 8
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Only these follow a redirect: following one with an upload would send its body again.
_SAFE_METHODS = frozenset({"GET", "HEAD"})


class Response(msgspec.Struct, eq=False):
    """A fully read HTTP response.

    A struct, not a class with an ``__init__``: built once per request, by a C constructor.

    Attributes:
        status: HTTP status code.
        headers: Response headers.
        body: The whole body (at most the transport's ``max_body_size``).
        url: The request URL with credentials redacted.
        method: The HTTP method.
    """

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    url: str
    method: str

    @property
    def content_type(self) -> str:
        """The media type, lowercased, without parameters ("" when absent)."""
        return self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()

    def __repr__(self) -> str:
        return f"<Response {self.method} {self.url} {self.status} {len(self.body)} bytes>"


class Transport:
    """Sends requests to one origin with one key.

    Args:
        base_url: Origin and optional path prefix, without a trailing slash.
        key: The API key.
        auth: ``header`` (X-Api-Key), ``query`` (``?apikey=``) or ``passkey`` (v1 ``?passkey=``,
            and a ``passkey`` form field on uploads).
        timeout: Seconds for one whole request (each redirect hop), connection and body read
            included; an expiry may be up to :data:`~._deadlines.GRANULARITY` late.
        max_body_size: Largest body accepted, in bytes; a larger answer is an error.
        user_agent: Value of the User-Agent header.
    """

    def __init__(
        self,
        *,
        base_url: str,
        key: Secret,
        auth: AuthMode,
        timeout: float,
        max_body_size: int,
        user_agent: str | None = None,
    ) -> None:
        self._base = URL(base_url)
        self._origin = self._base.origin()
        self._key = key
        self._redact_key = key.redact  # bound once: every request's default scrubber
        self._auth = auth
        self._connect_timeout = max(0.05, min(10.0, timeout / 2))
        self._failures = Failures(self._origin, self._connect_timeout, timeout)
        self._deadlines = Deadlines(timeout)
        self._max_body = max_body_size
        self._headers = {"User-Agent": user_agent or f"lacale-async/{__version__}"}
        # A default of the keyed session only (see open): a request with no header of its own
        # is the cheapest aiohttp sends, and a token link's download goes without the key.
        self._auth_headers: dict[str, str] = {}
        if auth == "header":
            self._auth_headers = {"X-Api-Key": key.reveal()}
        self._auth_params: dict[str, str] = {}
        if auth == "query":
            self._auth_params = {"apikey": key.reveal()}
        elif auth == "passkey":
            self._auth_params = {"passkey": key.reveal()}
        self._session: aiohttp.ClientSession | None = None
        self._bare: aiohttp.ClientSession | None = None  # without the key header, see open
        self._targets: dict[str, tuple[URL, str]] = {}

    def open(self) -> None:
        """Create the aiohttp sessions; must run inside the event loop that will use it."""
        self._session, self._bare = open_sessions(
            self._headers, self._auth_headers, self._connect_timeout
        )

    async def aclose(self) -> None:
        """Close the session and its connections; harmless when already closed."""
        session, self._session = self._session, None
        bare, self._bare = self._bare, None
        self._deadlines.close()
        if bare is not None and bare is not session and not bare.closed:
            await bare.close()  # not its borrowed connector
        if session is not None and not session.closed:
            await session.close()

    def url_for(self, path: str) -> URL:
        """Return the absolute URL of an API path."""
        return self._base.with_path(self._base.path.rstrip("/") + path, encoded=False)

    def _target(self, path: str) -> tuple[URL, str]:
        target = (self.url_for(path), redact_url(self.url_for(path)))
        # The API has three fixed paths; download paths vary per hash and are not kept.
        if len(self._targets) < _MAX_TARGETS:
            self._targets[path] = target
        return target

    def scrub(self, text: str) -> str:
        """Remove the key from text that came from the server or from aiohttp."""
        return self._key.redact(text)

    def round_trip(
        self,
        method: str,
        path: str,
        *,
        params: Params = NO_PARAMS,
        form: Callable[[], aiohttp.FormData] | None = None,
        authenticate: bool = True,
        before_redirect: Callable[[], Awaitable[None]] | None = None,
        scrub: Callable[[str], str] | None = None,
    ) -> Coroutine[None, None, Response]:
        """Send one request and read the whole answer, following same-origin redirects.

        Not a coroutine itself: it returns the first hop's, so a request resumes through one
        frame less each time its answer arrives (a redirect hop awaits the next one).

        Args:
            method: HTTP method.
            path: API path, such as ``/api/external``.
            params: Query parameters; a tuple value repeats its key.
            form: Builds a fresh multipart body; called once per attempt because an aiohttp
                FormData cannot be sent twice.
            authenticate: Attach the key; False for a request whose params carry their own
                credential (a download link's token).
            before_redirect: Awaited before following a redirect: a hop is one more request
                on the network, and the sender takes new slots for it.
            scrub: Removes the request's secrets from server and aiohttp text quoted in its
                errors; the key alone by default (a download link's adds its token).

        Returns:
            The response, whatever its status (awaited).

        Raises:
            ConnectError: No connection could be made; nothing was sent.
            RequestTimeoutError: The request did not complete within ``timeout``.
            TransportError: The connection broke, or the body was truncated or too large.
            ResponseError: A redirect to another origin or to a URL that cannot be parsed, too
                many redirects, or any 3xx answer to a method other than GET (an upload is
                never sent again by following a redirect).
            ClientStateError: The transport is not open.
        """
        session = self._session if authenticate else self._bare
        if session is None:
            raise ClientStateError("the client is not open; use 'async with LaCaleClient(...)'")
        target = self._targets.get(path)
        if target is None:
            target = self._target(path)
        url, shown = target
        auth_params = self._auth_params if authenticate else {}
        query = {**params, **auth_params} if auth_params else params
        hops = (authenticate, before_redirect, scrub or self._redact_key)
        return self._hop(session, method, url, query, form, shown, hops)

    async def _hop(
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: URL,
        query: Params,
        form: Callable[[], aiohttp.FormData] | None,
        shown: str,
        hops: _Hops,
        hop: int = 0,
    ) -> Response:
        """Send hop number ``hop``; a same-origin redirect is followed by awaiting the next."""
        # Errors are built in the except clause but raised after it: raising inside would chain
        # aiohttp's exception as __context__, and it holds the URL with the key.
        failure: LaCaleError | None = None
        data: aiohttp.FormData | None = None
        resp: aiohttp.ClientResponse | None = None
        location: str | None = None
        try:
            try:
                data = None if form is None else self._form(form)
                # The whole hop, body read included, inside one deadline.
                with self._deadlines.bound():
                    # Awaited, not entered with `async with`: its __aenter__ would be one more
                    # coroutine frame that every resume of the header wait passes through.
                    resp = await session.request(
                        method, url, params=query, data=data, allow_redirects=False
                    )
                    try:
                        if 300 <= resp.status < 400 and method not in _SAFE_METHODS:
                            raise self._refuse_redirect(method, shown, resp, hops[2])
                        location = (
                            resp.headers.get("Location") if resp.status in _REDIRECTS else None
                        )
                        if location is not None:
                            # Followed below, out of this hop.
                            url = self._follow(url, location, hops[2])
                        else:
                            body = await self._read(resp, shown)
                            if logger.isEnabledFor(logging.DEBUG):
                                _log_hop(method, url.with_query(query), resp.status, body, hops[2])
                            return Response(resp.status, resp.headers, body, shown, method)
                    finally:
                        # What leaving `async with` does: free the connection, then wait until
                        # the request's writer (an upload's body) has stopped.
                        resp.release()
                        await resp.wait_for_close()
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                failure = self._failures.describe(exc, method, shown, hops[2])
            if failure is not None:
                raise failure  # noqa: TRY301 (inside the block that clears the locals)
            return await self._redirect(session, method, url, form, shown, hops, hop)
        except BaseException:
            # A traceback through this frame keeps its locals, and tools record them (Sentry,
            # pytest --showlocals): in query and passkey mode the query, the form and the
            # response's URL hold the key, and a server may echo it into its Location. Only
            # when failing: an answer returned leaves no traceback (nothing on the hot path).
            query, data, resp, location, url = NO_PARAMS, None, None, None, self._base
            raise

    async def _redirect(
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: URL,
        form: Callable[[], aiohttp.FormData] | None,
        shown: str,
        hops: _Hops,
        hop: int,
    ) -> Response:
        """Follow a redirect within the origin: out of the response and its deadline.

        Its Location carries its own query, and only the key is added again (as an argument,
        never a local of a frame a traceback keeps: see ``_hop``).
        """
        if hop >= _MAX_REDIRECTS:
            raise ResponseError(f"{method} {shown}: more than {_MAX_REDIRECTS} redirects")
        authenticate, before_redirect, _ = hops
        try:
            if before_redirect is not None:
                await before_redirect()
            return await self._hop(
                session,
                method,
                url,
                self._auth_params if authenticate else NO_PARAMS,
                form,
                shown,
                hops,
                hop + 1,
            )
        except BaseException:
            url = self._base  # the Location's target: the server may have echoed the key in it
            raise

    def _form(self, build: Callable[[], aiohttp.FormData]) -> aiohttp.FormData:
        form = build()
        if self._auth == "passkey":
            # The v1 API reads the passkey from the multipart body on uploads.
            form.add_field("passkey", self._key.reveal())
        return form

    def _follow(self, current: URL, location: str, scrub: Callable[[str], str]) -> URL:
        try:
            target = current.join(URL(location))
            origin = target.origin()
        except ValueError:
            # yarl refuses "http://h:99999/", "http://[::1" and "javascript:..." (no origin).
            origin = None
        if origin is None:
            raise ResponseError(
                f"the server redirected to a URL that cannot be parsed "
                f"({scrub(location[:200])!r}); not following it"
            )
        if origin != self._origin:
            # Following would hand the key (header or query) to a host the user never named.
            # The origin is the server's text too: a key or token echoed as a host name.
            raise ResponseError(
                f"the server redirected to another origin ({scrub(str(origin))}); not "
                "following it with the API key"
            )
        # The key is re-added from _auth_params; drop any copy the Location may echo.
        return target.with_query({k: v for k, v in target.query.items() if k not in _KEY_PARAMS})

    def _refuse_redirect(
        self, method: str, shown: str, resp: aiohttp.ClientResponse, scrub: Callable[[str], str]
    ) -> ResponseError:
        location = resp.headers.get("Location")
        where = f" to {scrub(location[:200])!r}" if location else ""
        return ResponseError(
            f"{method} {shown} was answered HTTP {resp.status} (a redirect{where}); "
            "not sending the request again"
        )

    def _read(self, resp: aiohttp.ClientResponse, shown: str) -> Coroutine[None, None, bytes]:
        """Return the coroutine that reads the whole body, never holding more than the cap."""
        length = resp.content_length
        if (
            length is not None
            and length <= self._max_body
            and "Content-Encoding" not in resp.headers
        ):
            # The common case, read in one go (no coroutine of ours). A compressed body is
            # streamed: its Content-Length says nothing of its inflated size.
            return resp.read()
        return self._read_capped(resp, shown)

    async def _read_capped(self, resp: aiohttp.ClientResponse, shown: str) -> bytes:
        """Read a body of unknown, excessive or compressed size, never holding more than the cap.

        Raises:
            ResponseError: The answer is larger than the cap (not retried: it would be again).
        """
        length = resp.content_length
        if length is not None and length > self._max_body:
            raise ResponseError(
                f"{shown}: the answer is {length} bytes, over the {self._max_body}-byte cap"
            )
        # Chunked or compressed: count the (inflated) bytes as they stream, so a huge answer
        # or a compression bomb cannot exhaust memory.
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(65536):
            size += len(chunk)
            if size > self._max_body:
                raise ResponseError(
                    f"{shown}: the answer exceeds the {self._max_body}-byte cap; stopped reading"
                )
            chunks.append(chunk)
        return b"".join(chunks)


def _log_hop(method: str, url: URL, status: int, body: bytes, scrub: Callable[[str], str]) -> None:
    # The URL of a followed redirect is the server's text: its path may echo the key or a
    # download link's token (scrub removes them and every credential parameter).
    logger.debug("%s %s -> %d (%d bytes)", method, scrub(str(url)), status, len(body))


_KEY_PARAMS = frozenset({"apikey", "passkey"})
