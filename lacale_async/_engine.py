"""What an open client has, and the one way a cached call is answered.

A call flows one way, each step calling only the next, and one decoded value comes back::

    LaCaleClient   options, lifecycle, argument checks, result shaping
      -> Engine    cache -> single-flight -> fill -> send -> decode -> cache write
        -> Sender  endpoint limiter, key budget, retries
          -> Transport  one HTTP exchange

The engine exists from ``open()`` to ``aclose()``: its caches, calls in flight, limiters, key
budget and sender are built in the event loop that opened the client, and belong to it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from functools import partial
from typing import TypeVar

from ._cache import ttl_from_headers
from ._cached import Cached, CacheMode
from ._cancel import run_to_end
from ._config import ClientConfig, EndpointRate
from ._download_link import link_target, maskable
from ._endpoints import META_PATH, SEARCH_PATH, UPLOAD_PATH, Endpoint, download_path
from ._errors import (
    APIError,
    ClientStateError,
    ConflictError,
    IntegrityError,
    ResponseError,
    UploadRejectedError,
    ValidationError,
)
from ._gate import running_loop
from ._keybudget import KeyBudget
from ._limiter import RateLimiter, build_limiter
from ._models import Meta, Torrent, UploadResult, decode_meta, decode_search, decode_upload
from ._options import describe
from ._quota import Quota, utc
from ._responses import Scrub, decode_body, outcome_unknown_note, token_refused
from ._retry import Backoff
from ._secret import wire_secret
from ._sender import Sender
from ._stats import StatsRecorder
from ._stores import KeyLedgerBackend, LocalBackend
from ._torrent import TorrentInfo, verify_torrent
from ._transport import NO_PARAMS, Params, Response, Transport
from ._uploads import UploadForm
from ._wait_event import WaitReporter

__all__ = ["Engine"]

logger = logging.getLogger("lacale_async")

V = TypeVar("V")

_ANOTHER_LOOP = (
    "this client was opened on another event loop (another thread, or another asyncio.run): "
    "a client belongs to the loop that opened it. Open one client per loop; clients of one "
    "key share its rate budget whatever their loop"
)


class Engine:
    """What a client has while it is open, built by :meth:`start` in the loop that opens it.

    Attributes:
        loop: The event loop that opened the client: its session and flights live there.
        search: The search endpoint's cache and calls in flight.
        meta: The meta endpoint's.
        meta_key: The cache key of the one meta answer.
    """

    __slots__ = (
        "_budget",
        "_config",
        "_sender",
        "_stats",
        "_uploading",
        "loop",
        "meta",
        "meta_key",
        "search",
    )

    def __init__(self, config: ClientConfig, stats: StatsRecorder, transport: Transport) -> None:
        self.loop = asyncio.get_running_loop()
        self._config = config
        self._stats = stats
        backend, scope, clock = config.backend, config.scope, config.clock
        limiters = {
            endpoint: _limiter(config, endpoint, arg) for endpoint, arg in config.rates.items()
        }
        self._budget = _key_budget(config, stats)
        waits = None
        if config.on_wait is not None:
            key_rates = self._budget.rates if self._budget is not None else None
            waits = WaitReporter.of(config.on_wait, clock, limiters, key_rates)
        self._sender = Sender(
            transport=transport,
            limiters=limiters,
            stats=stats,
            clock=clock,
            backoff=Backoff(),
            max_retries=config.max_retries,
            max_retry_wait=config.max_retry_wait,
            scrub=self.scrub,
            wall=config.wall,
            budget=self._budget,
            waits=waits,
        )
        self.search: Cached[tuple[Torrent, ...]] = Cached(
            "search",
            SEARCH_PATH,
            backend.cache(
                scope=scope, namespace="search", max_entries=config.cache_size, clock=clock
            ),
            ttl=config.cache_ttl,
            decode=decode_search,
            promised="a JSON list of torrents",
            on_shared=stats.count_coalesced,
        )
        self.meta: Cached[Meta] = Cached(
            "meta",
            META_PATH,
            backend.cache(scope=scope, namespace="meta", max_entries=4, clock=clock),
            ttl=config.meta_ttl,
            decode=decode_meta,
            promised="the meta JSON object",
            on_shared=stats.count_coalesced,
        )
        self.meta_key = f"{scope}|meta"
        self._uploading: set[str] = set()

    @classmethod
    async def start(cls, config: ClientConfig, stats: StatsRecorder) -> Engine:
        """Open the HTTP session and build the rest on it; call it in the loop that will use it.

        Raises:
            LaCaleError: The backend refused (a ``RedisBackend`` not opened...); the session
                is closed again.
        """
        transport = Transport(
            base_url=config.base_url,
            key=config.key,
            auth=config.auth,
            timeout=config.timeout,
            max_body_size=config.max_body_size,
            user_agent=config.user_agent,
        )
        transport.open()
        try:
            return cls(config, stats, transport)
        except BaseException:
            # A backend that refuses (Redis not opened, bad rates) must not leak the session,
            # even when the caller is cancelled meanwhile (a plain Task.cancel() too).
            await run_to_end(transport.aclose())
            raise

    @property
    def budget(self) -> KeyBudget | None:
        """The key-wide budget, or None (``key_rate=None``)."""
        return self._budget

    def check_loop(self) -> None:
        """Refuse a call from another event loop than the one that opened the client.

        Raises:
            ClientStateError: The running loop is another one (or none).
        """
        if running_loop() is not self.loop:
            raise ClientStateError(_ANOTHER_LOOP)

    def scrub(self, text: str) -> str:
        """Remove the key (in any form it is sent, or as a query parameter) from text."""
        return self._config.key.redact(text)

    # -- cached calls: search and meta ---------------------------------------------------------

    async def get(
        self, call: Cached[V], key: str, params: Params = NO_PARAMS, *, mode: CacheMode
    ) -> V:
        """Answer from the cache when ``mode`` allows and it holds ``key``, else :meth:`fetch`.

        Raises:
            ValidationError: ``mode`` is not a :data:`CacheMode`.
            LaCaleError: Whatever the request raised (see :meth:`fetch`).
        """
        if mode == "use" and call.ttl > 0:
            peek = call.peek
            hit = peek(key) if peek is not None else await call.cache.get(key)
            if hit is not None:
                self._stats.cache_hits += 1
                return hit
        return await self.fetch(call, key, params, mode=mode)

    def fetch(
        self, call: Cached[V], key: str, params: Params = NO_PARAMS, *, mode: CacheMode
    ) -> Coroutine[None, None, V]:
        """Answer what the cache did not: single-flight, fill, send, decode, cache write.

        ``use`` and ``refresh`` share one request in flight per key and store its answer (a
        refresh never takes what another process stored); ``bypass`` sends a request of its
        own and stores nothing. Not a coroutine itself: it checks the call and returns the
        single-flight's coroutine (or the send's), so a request resumes through one frame less
        each time its answer arrives; the flight counts the calls that shared one.

        Returns:
            The answer (awaited).

        Raises:
            ValidationError: ``mode`` is not a :data:`CacheMode` (raised by the call itself).
            ClientStateError: Called from another event loop (raised by the call itself), or
                the client closed meanwhile.
            LaCaleError: Whatever the request raised, in every caller that shared it.
        """
        if mode != "use" and mode != "refresh" and mode != "bypass":
            raise ValidationError(
                f"cache must be 'use', 'refresh' or 'bypass', not {describe(mode)}"
            )
        # Past a cache hit (which touches nothing bound to a loop): the session and the
        # single-flight belong to the loop that opened the client.
        self.check_loop()
        self._stats.cache_misses += 1
        if mode == "bypass":
            return self._send(call, params, None)
        if call.ttl <= 0:
            work = partial(self._send, call, params, None)
        elif call.local or mode == "refresh":
            # In-process cache: single-flight already coalesces this process's callers. A
            # refresh must fetch, not take what another process stored in a shared cache.
            work = partial(self._send, call, params, key)
        else:
            work = partial(self._fill, call, params, key)
        return call.flight.do(key, work, self.loop)  # checked above

    async def _fill(self, call: Cached[V], params: Params, key: str) -> V:
        """Fetch through a shared cache: one process fetches, the others get what it stores."""
        async with call.cache.fill(key) as filled:
            if filled is not None:
                return filled
            return await self._send(call, params, key)

    async def _send(self, call: Cached[V], params: Params, key: str | None) -> V:
        """Send one request and decode it; store the answer under ``key`` (None: do not)."""
        resp = await self._sender.send(call.endpoint, "GET", call.path, params=params)
        value = decode_body(resp, call.decode, call.promised, self.scrub)
        if key is not None:
            ttl = ttl_from_headers(resp.headers, call.ttl)
            if ttl > 0:
                await call.cache.set(key, value, ttl)
        return value

    def is_cached(self, key: str) -> bool:
        """True when the in-process search cache answers ``key`` now (False: unknown)."""
        peek = self.search.peek
        return peek is not None and peek(key) is not None

    # -- uncached calls --------------------------------------------------------------------

    async def upload(self, form: UploadForm, *, info_hash: str, title: str) -> UploadResult:
        """Send an upload, never twice blindly, and return the tracker's decoded answer.

        Raises:
            ConflictError: This client is uploading the same torrent already, or the tracker
                has it (409).
            UploadRejectedError: The tracker answered ``success: false``.
            ResponseError: The answer was not the upload JSON (``outcome_unknown``).
            APIError: Any other refusal (see the sender's retry rule).
        """
        if info_hash in self._uploading:
            raise ConflictError(
                f"an upload of the torrent with info hash {info_hash} is already in progress "
                "in this client",
                info_hash=info_hash,
            )
        self._uploading.add(info_hash)
        try:
            resp = await self._sender.send(
                "upload", "POST", UPLOAD_PATH, form=form, idempotent=False, info_hash=info_hash
            )
            result, message = decode_body(resp, decode_upload, "the upload JSON object", self.scrub)
        except ResponseError as exc:
            # An answer came, so the body had been sent: a redirect (never followed for an
            # upload), an answer over the cap, or one that is not the upload JSON.
            exc.outcome_unknown = True
            exc.message += outcome_unknown_note(info_hash)
            raise
        finally:
            self._uploading.discard(info_hash)
        if not result.success:
            raise UploadRejectedError(
                f"the tracker refused the upload of {title!r} "
                f"(HTTP {resp.status}, success: false): "
                f"{self.scrub(message) or 'no reason given'}"
            )
        return result

    async def download(self, info_hash: str, link: str | None) -> tuple[bytes, TorrentInfo]:
        """Download a torrent, by its link's token when it may be used, and verify it.

        Args:
            info_hash: The checked, lowercase info hash asked for.
            link: A search result's ``download_link``, or None.

        Raises:
            IntegrityError: The answer is not the torrent asked for.
            APIError: The tracker refused (a refused token falls back to the key once).
        """
        config = self._config
        target = (
            link_target(link, base_url=config.base_url, info_hash=info_hash, now=config.wall())
            if link
            else None
        )
        sender = self._sender
        resp: Response | None = None
        scrub: Scrub = self.scrub
        if target is not None:
            token = target.params["token"]
            if maskable(token):  # a server that echoes it (a 404 or 5xx body) must not show it
                scrub = wire_secret(token).after(self.scrub)
            try:
                # Same limiter (and key budget) as every download; only the key stays home.
                resp = await sender.send(
                    "download",
                    "GET",
                    target.path,
                    params=target.params,
                    authenticate=False,
                    scrub=scrub,
                )
            except APIError as exc:
                if not token_refused(exc):
                    raise
                logger.debug("download link refused (HTTP %d); using the key", exc.status)
        if resp is None:
            # After a refused token too, the server knows it and may echo it: still scrubbed.
            resp = await sender.send(
                "download",
                "GET",
                download_path(info_hash),
                scrub=None if target is None else scrub,
            )
        try:
            return resp.body, verify_torrent(resp.body, info_hash)
        except IntegrityError as exc:
            # The message quotes the server's bytes (the torrent's name, a JSON body's keys),
            # which may echo the key or the token. Raised outside the except clause, so that
            # the unscrubbed error is not chained to it.
            failure = IntegrityError(scrub(exc.message))
        raise failure

    async def quota(self) -> Quota:
        """Return what is left of the key-wide budget (``remaining`` None without one)."""
        budget = self._budget
        if budget is None:
            return Quota(remaining=None, at=utc(self._config.wall()))
        return await budget.quota()

    async def aclose(self) -> None:
        """Cancel the calls in flight, then close the HTTP session."""
        await self.search.flight.aclose()
        await self.meta.flight.aclose()
        await self._sender.aclose()
        if self._budget is not None:
            await self._budget.aclose()


def _limiter(config: ClientConfig, endpoint: Endpoint, arg: EndpointRate) -> RateLimiter | None:
    if not isinstance(arg, list):  # None, or a limiter object used as given
        return build_limiter(arg, clock=config.clock, name=endpoint)
    return config.backend.limiter(
        scope=config.scope, endpoint=endpoint, rates=arg, clock=config.clock
    )


def _key_budget(config: ClientConfig, stats: StatsRecorder) -> KeyBudget | None:
    """The client's key budget on its backend's ledger (or the local one), or None."""
    if config.key_rate is None:
        return None
    backend = config.backend
    provider = backend if isinstance(backend, KeyLedgerBackend) else LocalBackend()
    return KeyBudget(
        provider.key_ledger(scope=config.scope, clock=config.clock, store=config.quota_store),
        rates=config.key_rate,
        clock=config.clock,
        on_quota=config.on_quota,
        max_quota_wait=config.max_quota_wait,
        max_retry_wait=config.max_retry_wait,
        lease=config.lease,
        stats=stats.key,
    )
