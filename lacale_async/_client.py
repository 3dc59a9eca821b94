"""``LaCaleClient``: the public entry point that ties transport, limiters, cache and models."""

from __future__ import annotations

import asyncio
import enum
import logging
import os
import random
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Literal, TypeVar

import aiolimiter
import anyio
import msgspec

from ._backend import Backend, LocalBackend, derive_scope
from ._batch_quota import BatchPlan
from ._bulk import SearchOutcome, SearchQuery, as_queries, search_many
from ._cache import Cache, MemoryCache, ttl_from_headers
from ._clock import Clock, MonotonicClock, wall_clock
from ._download_link import link_target
from ._errors import (
    APIError,
    ClientStateError,
    ConflictError,
    LaCaleError,
    ResponseError,
    StorageError,
    UploadRejectedError,
    ValidationError,
)
from ._files import (
    check_destination,
    check_path,
    resolve_destination,
    safe_filename,
    write_atomic,
)
from ._gate import running_loop
from ._keybudget import build_key_budget, check_quota_options
from ._limiter import RateArg, RateLimiter, build_limiter, parse_rates
from ._models import Meta, Torrent, UploadResult, decode_meta, decode_search, decode_upload
from ._normalize import search_cache_key
from ._options import check_bool, check_options
from ._quota import (
    DEFAULT_KEY_RATE,
    KeyRateArg,
    OnQuota,
    Quota,
    QuotaStoreArg,
    resolve_key_rate,
    utc,
)
from ._responses import decode_body, outcome_unknown_note, token_refused
from ._retry import Backoff
from ._secret import Secret
from ._sender import Sender
from ._singleflight import SingleFlight
from ._stats import ClientStats, StatsRecorder
from ._torrent import SourcePolicy, TorrentInfo, apply_source_flag, verify_torrent
from ._transport import NO_PARAMS, AuthMode, Params, Response, Transport, wire_forms
from ._uploads import UploadForm, read_input, resolve_category, resolve_tag
from ._validation import (
    check_api_key,
    check_base_url,
    check_categories,
    check_cover_url,
    check_info_hash,
    check_query,
    check_tags,
    check_text,
    check_title,
    check_tmdb_id,
    check_tmdb_type,
)
from ._watch import WatchEvent, watch_releases
from ._watch_plan import check_watch

__all__ = ["DEFAULT_BASE_URL", "CacheMode", "ClientState", "LaCaleClient"]

logger = logging.getLogger("lacale_async")

DEFAULT_BASE_URL = "https://la-cale.space"

# Prowlarr's and Jackett's definitions for La Cale wait about 2 s between requests; one request
# per 2 s per endpoint is the pace the tracker already sees from every indexer, so it is safe.
DEFAULT_SEARCH_RATE: RateArg = (1, 2.0)
DEFAULT_DOWNLOAD_RATE: RateArg = (1, 2.0)
DEFAULT_META_RATE: RateArg = (1, 2.0)
# Documented: "rate limiting strict (30/min)".
DEFAULT_UPLOAD_RATE: RateArg = (30, 60.0)
# Live, not documented: about 200 a day per key, 60 a minute at most (see DEFAULT_KEY_RATE).
_DEFAULT_KEY_RATE: KeyRateArg = tuple(DEFAULT_KEY_RATE)
# A unit in flight in a shared store counts as done this long after the request's timeout.
_LEASE_EXTRA = 10.0

_MAX_TORRENT_SIZE = 10 * 1024 * 1024
# Searches whose validation and cache key are remembered per client (cleared when full).
_PREPARED_MAX = 256
_MAX_NFO_SIZE = 1024 * 1024
# Upper bounds of durations: finite, and far beyond any sensible value.
_DAY = 86_400.0
_YEAR = 365 * _DAY

T = TypeVar("T")

CacheMode = Literal["use", "refresh", "bypass"]
"""How one call uses the cache: ``use`` (read and fill), ``refresh`` (skip the read, fill with
the fresh answer), ``bypass`` (neither read nor fill)."""


class ClientState(enum.Enum):
    """Where a client is in its life."""

    UNOPENED = "unopened"
    OPEN = "open"
    CLOSED = "closed"


class LaCaleClient:
    """Async client for the La Cale tracker API, safe to share between tasks.

    It knows the tracker's rate limits (one limiter per endpoint, shared by every client using
    the same key and base URL in the process), caches search and meta answers, lets concurrent
    identical calls share one request, retries what is safe to retry, and raises only
    :class:`LaCaleError` subclasses.

    Args:
        api_key: The API key (passkey for the v1 API). None reads ``LACALE_API_KEY``.
        base_url: The tracker's origin. ``LACALE_BASE_URL`` replaces the default when set.
        auth: ``header`` sends ``X-Api-Key``; ``query`` sends ``?apikey=``; ``passkey`` speaks
            the older v1 API (``?passkey=`` and a ``passkey`` upload field).
        search_rate: Limit for searches: ``(calls, period)``, several such pairs that must all
            hold, an ``aiolimiter.AsyncLimiter`` or any :class:`RateLimiter`, or None for none.
        upload_rate: Limit for uploads (documented: 30 per 60 s).
        download_rate: Limit for .torrent downloads.
        meta_rate: Limit for meta requests.
        cache_ttl: Seconds a search answer is reused; 0 disables the search cache.
        meta_ttl: Seconds the meta answer is reused; 0 disables the meta cache.
        cache_size: Most search answers kept (least recently used dropped first).
        max_retries: Retries after a failed attempt, per call.
        timeout: Seconds for one whole request, body read included.
        max_body_size: Largest answer accepted, in bytes.
        source_policy: What ``upload`` does when the torrent lacks the ``lacale`` source flag:
            ``set`` it (default), ``refuse``, or ``keep`` the torrent as is.
        allow_insecure_http: Allow plain http to a non-loopback host (the key would travel in
            clear text).
        backend: Where limiters and caches live; default in-process. A shared backend (Redis)
            makes several processes share one budget and one cache.
        clock: Time source for limiters, caches and retry delays; tests pass a fake one.
        max_retry_wait: Longest ``Retry-After`` the client waits out before giving up.
        user_agent: User-Agent header.
        allow_empty_search: Send searches with neither a query nor a TMDB id. The live tracker
            refuses them, so by default they raise ``ValidationError`` before anything is sent;
            set it for a server that lists the latest torrents instead, as the documentation
            says (the sandbox's ``docs`` profile).
        key_rate: The key-wide budget over every endpoint together, spent by every request
            that reaches the network: ``(calls, period)``, several pairs that must all hold,
            or None. Default ``[(60, 60.0), (200, 86400.0)]`` (the tracker's reported live
            limits), or ``LACALE_KEY_RATE`` (``"60/60,200/86400"`` or ``"off"``) when set.
        quota_store: Where the key budget is kept across restarts and between processes of
            this machine: a SQLite file path, ``"auto"`` (a file in the user's cache folder,
            or ``LACALE_QUOTA_STORE`` when set) or None (this process's memory). Not used with
            a fleet backend, which keeps the budget itself.
        on_quota: When a long key window (the daily budget) is spent: ``"raise"``
            :class:`QuotaExceededError` before sending, or ``"wait"`` up to
            ``max_quota_wait`` seconds. Short windows (the 60 a minute) are always waited out.
        max_quota_wait: Longest wait for the key budget with ``on_quota="wait"``; windows no
            longer than this are burst windows, waited out in both modes.

    Raises:
        ConfigurationError: No key, a bad base URL, plain http to a remote host, bad rates,
            a bad quota option.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str = DEFAULT_BASE_URL,
        auth: AuthMode = "header",
        search_rate: RateArg = DEFAULT_SEARCH_RATE,
        upload_rate: RateArg = DEFAULT_UPLOAD_RATE,
        download_rate: RateArg = DEFAULT_DOWNLOAD_RATE,
        meta_rate: RateArg = DEFAULT_META_RATE,
        cache_ttl: float = 30.0,
        meta_ttl: float = 3600.0,
        cache_size: int = 1024,
        max_retries: int = 3,
        timeout: float = 30.0,
        max_body_size: int = 16 * 1024 * 1024,
        source_policy: SourcePolicy = "set",
        allow_insecure_http: bool = False,
        backend: Backend | None = None,
        clock: Clock | None = None,
        max_retry_wait: float = 120.0,
        user_agent: str | None = None,
        allow_empty_search: bool = False,
        key_rate: KeyRateArg = _DEFAULT_KEY_RATE,
        quota_store: QuotaStoreArg = "auto",
        on_quota: OnQuota = "raise",
        max_quota_wait: float = 120.0,
    ) -> None:
        key = check_api_key(api_key if api_key is not None else os.environ.get("LACALE_API_KEY"))
        if base_url == DEFAULT_BASE_URL:
            base_url = os.environ.get("LACALE_BASE_URL") or DEFAULT_BASE_URL
        self._base_url = check_base_url(base_url, allow_insecure_http=allow_insecure_http)
        check_options(
            auth=auth,
            source_policy=source_policy,
            seconds={
                "cache_ttl": (cache_ttl, 0.0, _YEAR),
                "meta_ttl": (meta_ttl, 0.0, _YEAR),
                "max_retry_wait": (max_retry_wait, 0.0, _YEAR),
                "max_quota_wait": (max_quota_wait, 0.0, _YEAR),
                "timeout": (timeout, None, _DAY),
            },
            counts={
                "max_retries": (max_retries, 0),
                "cache_size": (cache_size, 1),
                "max_body_size": (max_body_size, 1),
            },
            user_agent=user_agent,
            objects={"backend": (backend, Backend), "clock": (clock, Clock)},
        )
        self._key = Secret(key, wire_forms(key))
        self._auth: AuthMode = auth
        # Validate rates now so a typo fails at construction, not at the first request.
        self._rate_args: dict[str, RateArg] = {
            "search": search_rate,
            "upload": upload_rate,
            "download": download_rate,
            "meta": meta_rate,
        }
        for endpoint, arg in self._rate_args.items():
            if arg is not None and not _is_limiter_object(arg):
                parse_rates(arg, name=f"{endpoint}_rate")
        self._cache_ttl = float(cache_ttl)
        self._meta_ttl = float(meta_ttl)
        self._cache_size = cache_size
        self._max_retries = max_retries
        self._timeout = float(timeout)
        self._max_body = max_body_size
        self._source_policy: SourcePolicy = source_policy
        self._backend: Backend = backend if backend is not None else LocalBackend()
        self._clock: Clock = clock if clock is not None else MonotonicClock()
        self._max_retry_wait = max_retry_wait
        self._user_agent = user_agent
        self._allow_empty_search = check_bool(allow_empty_search, "allow_empty_search")
        # Wall time (Unix seconds) for what outlives this process: persisted key windows, and
        # the expiry of download-link tokens. It moves with ``clock``, so tests need only one.
        self._wall = wall_clock(self._clock)
        self._key_rate = resolve_key_rate(key_rate, is_default=key_rate is _DEFAULT_KEY_RATE)
        self._quota_store = check_quota_options(self._backend, quota_store, on_quota)
        self._on_quota: OnQuota = on_quota
        self._max_quota_wait = float(max_quota_wait)
        # The scope names this key at this origin without revealing the key: limiters and cache
        # entries are shared within a scope and never across scopes.
        self._scope = derive_scope(key, self._base_url)
        self._backoff = Backoff()
        self._state = ClientState.UNOPENED
        self._stats = StatsRecorder()
        self._live: _Live | None = None
        self._uploads_in_flight: set[str] = set()
        self._prepared: dict[object, tuple[str, Params]] = {}

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def state(self) -> ClientState:
        """``UNOPENED``, ``OPEN`` or ``CLOSED``."""
        return self._state

    @property
    def base_url(self) -> str:
        """The origin this client talks to."""
        return self._base_url

    @property
    def stats(self) -> ClientStats:
        """A snapshot of this client's counters."""
        return self._stats.snapshot()

    async def quota(self) -> Quota:
        """Return what is left of the key-wide budget, every client of the key counted.

        Returns:
            The remaining requests under every key window, each window's usage and when a
            request may go (``remaining`` None when ``key_rate`` is None).

        Raises:
            ClientStateError: The client is not open.
            BackendError: A fleet backend's Redis failed (``on_redis_error="fail"``).
        """
        budget = self._require_open().sender.budget
        if budget is None:
            return Quota(remaining=None, at=utc(self._wall()))
        return await budget.quota()

    async def open(self) -> LaCaleClient:
        """Create the HTTP session, limiters and caches; ``async with`` calls this for you.

        Returns:
            The client itself.

        Raises:
            ClientStateError: The client is already open, or was closed (clients are not
                reusable, like httpx's).
        """
        if self._state is ClientState.OPEN:
            raise ClientStateError("the client is already open")
        if self._state is ClientState.CLOSED:
            raise ClientStateError("the client was closed; create a new LaCaleClient")
        transport = Transport(
            base_url=self._base_url,
            key=self._key,
            auth=self._auth,
            timeout=self._timeout,
            max_body_size=self._max_body,
            user_agent=self._user_agent,
        )
        transport.open()
        backend, scope, clock = self._backend, self._scope, self._clock
        try:
            self._live = self._build_live(transport, backend, scope, clock)
        except BaseException:
            # A backend that refuses (Redis not opened, bad rates) must not leak the session.
            with anyio.CancelScope(shield=True):
                await transport.aclose()
            raise
        self._state = ClientState.OPEN
        return self

    def _build_live(
        self, transport: Transport, backend: Backend, scope: str, clock: Clock
    ) -> _Live:
        sender = Sender(
            transport=transport,
            limiters={
                endpoint: self._make_limiter(endpoint, arg)
                for endpoint, arg in self._rate_args.items()
            },
            stats=self._stats,
            clock=clock,
            backoff=self._backoff,
            max_retries=self._max_retries,
            max_retry_wait=self._max_retry_wait,
            scrub=self._scrub,
            budget=build_key_budget(
                backend,
                scope=scope,
                rates=self._key_rate,
                store=self._quota_store,
                clock=clock,
                on_quota=self._on_quota,
                max_quota_wait=self._max_quota_wait,
                max_retry_wait=self._max_retry_wait,
                lease=self._timeout + _LEASE_EXTRA,
                stats=self._stats.key,
            ),
        )
        return _Live(
            sender=sender,
            search_cache=backend.cache(
                scope=scope, namespace="search", max_entries=self._cache_size, clock=clock
            ),
            meta_cache=backend.cache(scope=scope, namespace="meta", max_entries=4, clock=clock),
        )

    async def aclose(self) -> None:
        """Cancel work in flight and close the HTTP session; closing twice is harmless."""
        if self._state is ClientState.CLOSED:
            return
        if self._live is not None:
            self._require_open()  # from another loop, its session cannot be closed here
        self._state = ClientState.CLOSED
        live, self._live = self._live, None
        if live is not None:
            with anyio.CancelScope(shield=True):
                await live.search_flight.aclose()
                await live.meta_flight.aclose()
                await live.transport.aclose()

    async def __aenter__(self) -> LaCaleClient:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return (
            f"<LaCaleClient base_url={self._base_url!r} auth={self._auth!r} "
            f"state={self._state.value}>"
        )

    def _make_limiter(self, endpoint: str, arg: RateArg) -> RateLimiter | None:
        if arg is None:
            return None
        if _is_limiter_object(arg):
            return build_limiter(arg, clock=self._clock, name=endpoint)
        return self._backend.limiter(
            scope=self._scope,
            endpoint=endpoint,
            rates=parse_rates(arg, name=f"{endpoint}_rate"),
            clock=self._clock,
        )

    def _require_open(self) -> _Live:
        live = self._live
        if live is not None:
            if running_loop() is live.loop:
                return live
            raise ClientStateError(
                "this client was opened on another event loop (another thread, or another "
                "asyncio.run): a client belongs to the loop that opened it. Open one client "
                "per loop; clients of one key share its rate budget whatever their loop"
            )
        if self._state is ClientState.UNOPENED:
            raise ClientStateError(
                "the client is not open: use 'async with LaCaleClient(...) as client:' "
                "or 'await client.open()'"
            )
        raise ClientStateError("the client is closed; create a new LaCaleClient")

    # -- endpoints -------------------------------------------------------------------------

    async def search(
        self,
        query: str | None = None,
        *,
        categories: str | Sequence[str] = (),
        tmdb_id: int | str | None = None,
        cache: CacheMode = "use",
    ) -> list[Torrent]:
        """Search approved torrents, newest first, at most 50.

        Identical searches (same text once lowercased and stripped of accents, same set of
        categories, same TMDB id) share one cache entry and one request in flight.

        Args:
            query: Text to search for (at most 200 characters). The live tracker refuses a
                search without a query or TMDB id; indexers send ``"FRENCH"`` to list recent
                releases. None is accepted only by a client built with ``allow_empty_search``.
            categories: One category slug or several (``films``, ``series``...).
            tmdb_id: Exact TMDB id.
            cache: ``use`` the cache, ``refresh`` it, or ``bypass`` it for this call.

        Returns:
            The matching torrents (a new list the caller may modify).

        Raises:
            ValidationError: Input the API would refuse (a search without a query or TMDB id
                included, unless ``allow_empty_search``); nothing was sent.
            APIError: The server refused the search (after retries, for 429 and 5xx).
            TransportError: The server could not be reached (after retries).
            ResponseError: The answer was not the promised JSON.
            ClientStateError: The client is not open.
        """
        # Inlined memo hit for the commonest call, search("text"): the cache-hit path is
        # otherwise dominated by call overhead. Only an exact empty tuple counts as "no
        # categories": False, 0 or {} are falsy too, and must still be refused.
        prepared = (
            self._prepared.get(query)
            if tmdb_id is None
            and not categories
            and categories.__class__ is tuple
            and query.__class__ is str
            else None
        )
        key, params = prepared or self._prepare_search(query, categories, tmdb_id)
        live = self._live or self._require_open()
        stats = self._stats
        if cache == "use":
            if self._cache_ttl > 0:
                peek = live.search_peek
                hit = peek(key) if peek is not None else await live.search_cache.get(key)
                if hit is not None:
                    stats.cache_hits += 1
                    return list(hit)
        elif cache == "bypass":
            stats.cache_misses += 1
            return list(await self._fetch_search(self._require_open(), params, None))
        elif cache != "refresh":
            raise ValidationError(f"cache must be 'use', 'refresh' or 'bypass', not {cache!r}")
        # Past a cache hit (which touches nothing bound to a loop): the session and the
        # single-flight belong to the loop that opened the client.
        live = self._require_open()
        stats.cache_misses += 1
        if self._cache_ttl <= 0:
            fetch = partial(self._fetch_search, live, params, None)
        elif live.search_peek is not None or cache == "refresh":
            # In-process cache: single-flight already coalesces this process's callers. A
            # refresh must fetch, not take what another process stored in a shared cache.
            fetch = partial(self._fetch_search, live, params, key)
        else:
            fetch = partial(self._coordinated_search, live, params, key)
        value, shared = await live.search_flight.do(key, fetch)
        if shared:
            stats.coalesced += 1
        return list(value)

    def _prepare_search(
        self, query: str | None, categories: str | Sequence[str], tmdb_id: int | str | None
    ) -> tuple[str, Params]:
        """Validate a search and build its cache key and query parameters, memoised.

        Bots repeat the same few searches; memoising the validation, normalisation and key
        makes a cache hit cost about as much as a dict lookup. Only what passed validation
        is stored, under a key that no invalid input can equal (see :func:`_memo_key`).
        """
        if categories.__class__ is list:
            categories = tuple(categories)
        memo_key = _memo_key(query, categories, tmdb_id)
        known = self._prepared.get(memo_key) if memo_key is not None else None
        if known is not None:
            return known
        q = check_query(query)
        if categories == () and tmdb_id is None:
            self._refuse_empty(q, None)
            # search("text"), the commonest call: nothing else to check or encode.
            prepared: tuple[str, Params] = (
                search_cache_key(self._scope, q, (), None),
                {"q": q} if q else NO_PARAMS,
            )
        else:
            cats = check_categories(categories)
            tmdb = check_tmdb_id(tmdb_id)
            self._refuse_empty(q, tmdb)
            params: dict[str, str | tuple[str, ...]] = {"q": q} if q else {}
            if cats:
                params["cat"] = cats
            if tmdb is not None:
                params["tmdbId"] = tmdb
            prepared = (search_cache_key(self._scope, q, cats, tmdb), params)
        if memo_key is not None:
            if len(self._prepared) >= _PREPARED_MAX:
                self._prepared.clear()
            self._prepared[memo_key] = prepared
        return prepared

    async def _coordinated_search(
        self, live: _Live, params: Params, key: str
    ) -> tuple[Torrent, ...]:
        """Fetch through a shared cache: one process fetches, the others get what it stores."""
        async with live.search_cache.fill(key) as filled:
            if filled is not None:
                return filled
            return await self._fetch_search(live, params, key)

    async def _fetch_search(
        self, live: _Live, params: Params, key: str | None
    ) -> tuple[Torrent, ...]:
        """Send a search and cache the answer under ``key`` (None: do not cache)."""
        resp = await live.sender.send("search", "GET", "/api/external", params=params)
        torrents = self._decode(resp, decode_search, "a JSON list of torrents")
        if key is not None:
            ttl = ttl_from_headers(resp.headers, self._cache_ttl)
            if ttl > 0:
                await live.search_cache.set(key, torrents, ttl)
        return torrents

    async def meta(self, *, cache: CacheMode = "use") -> Meta:
        """Fetch categories, tag groups and ungrouped tags (cached for ``meta_ttl``).

        Args:
            cache: ``use`` the cache, ``refresh`` it, or ``bypass`` it for this call.

        Returns:
            The tracker's metadata.

        Raises:
            APIError: The server refused the request.
            TransportError: The server could not be reached.
            ResponseError: The answer was not the promised JSON.
            ClientStateError: The client is not open.
        """
        live = self._require_open()
        if cache not in ("use", "refresh", "bypass"):
            raise ValidationError(f"cache must be 'use', 'refresh' or 'bypass', not {cache!r}")
        key = f"{self._scope}|meta"
        if cache == "bypass":
            return await self._request_meta(None)
        if cache == "use" and self._meta_ttl > 0:
            hit = await live.meta_cache.get(key)
            if hit is not None:
                self._stats.cache_hits += 1
                return hit
        self._stats.cache_misses += 1
        refresh = cache == "refresh"
        value, shared = await live.meta_flight.do(key, lambda: self._fetch_meta(key, refresh))
        if shared:
            self._stats.coalesced += 1
        return value

    async def _fetch_meta(self, key: str, refresh: bool) -> Meta:
        live = self._require_open()
        if self._meta_ttl <= 0:
            return await self._request_meta(None)
        if refresh:
            # A refresh must fetch, not take what another process stored in a shared cache.
            return await self._request_meta(key)
        async with live.meta_cache.fill(key) as filled:
            if filled is not None:
                return filled
            return await self._request_meta(key)

    async def _request_meta(self, key: str | None) -> Meta:
        resp = await self._require_open().sender.send("meta", "GET", "/api/external/meta")
        meta = self._decode(resp, decode_meta, "the meta JSON object")
        if key is not None and self._live is not None:
            ttl = ttl_from_headers(resp.headers, self._meta_ttl)
            if ttl > 0:
                await self._live.meta_cache.set(key, meta, ttl)
        return meta

    async def upload(
        self,
        *,
        title: str,
        category: str,
        torrent: bytes | str | os.PathLike[str],
        tags: Sequence[str] = (),
        description: str | None = None,
        tmdb_id: int | str | None = None,
        tmdb_type: Literal["MOVIE", "TV"] | None = None,
        cover_url: str | None = None,
        nfo: bytes | str | os.PathLike[str] | None = None,
        source_policy: SourcePolicy | None = None,
    ) -> UploadResult:
        """Upload a torrent.

        The torrent gets the ``lacale`` source flag unless the policy says otherwise (which
        changes its info hash: seed ``result.torrent``, not the original file). An upload is
        never sent twice blindly: it is retried only when the server refused it with 429 or
        no connection could be made.

        Args:
            title: Title shown on the tracker.
            category: Category id or slug (slugs are resolved through :meth:`meta`).
            torrent: The .torrent as bytes, or a path to it (``str`` or ``PathLike``).
            tags: Tag ids or slugs.
            description: Description text.
            tmdb_id: TMDB id.
            tmdb_type: ``MOVIE`` or ``TV``.
            cover_url: Public https URL of a cover image.
            nfo: The NFO as bytes, or a path to it.
            source_policy: Overrides the client's ``source_policy`` for this upload.

        Returns:
            The tracker's answer, with the info hash and bytes of what was uploaded.

        Raises:
            ValidationError: Bad input or an unknown category/tag; nothing was sent.
            InvalidTorrentError: The torrent is not well-formed; nothing was sent.
            ConflictError: The tracker already has this torrent (409).
            UploadRejectedError: The tracker answered ``success: false``.
            ServerError: 5xx after the body was sent (``outcome_unknown`` is True).
            RequestTimeoutError: Timed out after the body was sent (``outcome_unknown``).
            APIError: Any other refusal.
        """
        clean_title = check_title(title)
        tmdb = check_tmdb_id(tmdb_id)
        kind = check_tmdb_type(tmdb_type)
        cover = check_cover_url(cover_url)
        if not isinstance(category, str) or not category.strip():
            raise ValidationError("category must be a category id or slug")
        tag_list = check_tags(tags)
        check_text(description, "description")
        policy = self._source_policy if source_policy is None else source_policy
        if policy not in ("set", "refuse", "keep"):
            raise ValidationError(
                f"source_policy must be 'set', 'refuse' or 'keep', not {policy!r}"
            )
        self._require_open()
        raw = await read_input(torrent, "torrent", _MAX_TORRENT_SIZE)
        nfo_bytes = await read_input(nfo, "nfo", _MAX_NFO_SIZE) if nfo is not None else None
        data, info = apply_source_flag(raw, policy)
        meta = await self.meta()
        info_hash = info.info_hash
        form = UploadForm(
            title=clean_title,
            category_id=resolve_category(meta, category),
            torrent=data,
            filename=safe_filename(info.name or clean_title),
            tag_ids=tuple(resolve_tag(meta, t) for t in tag_list),
            description=description,
            tmdb_id=tmdb,
            tmdb_type=kind,
            cover_url=cover,
            nfo=nfo_bytes,
        )
        if info_hash in self._uploads_in_flight:
            raise ConflictError(
                f"an upload of the torrent with info hash {info_hash} is already in progress "
                "in this client",
                info_hash=info_hash,
            )
        self._uploads_in_flight.add(info_hash)
        try:
            resp = await self._require_open().sender.send(
                "upload",
                "POST",
                "/api/external/upload",
                form=form,
                idempotent=False,
                info_hash=info_hash,
            )
            result, message = self._decode(resp, decode_upload, "the upload JSON object")
        except ResponseError as exc:
            # An answer came, so the body had been sent: a redirect (never followed for an
            # upload), an answer over the cap, or one that is not the upload JSON.
            exc.outcome_unknown = True
            exc.message += outcome_unknown_note(info_hash)
            raise
        finally:
            self._uploads_in_flight.discard(info_hash)
        if not result.success:
            raise UploadRejectedError(
                f"the tracker refused the upload of {clean_title!r} "
                f"(HTTP {resp.status}, success: false): "
                f"{self._scrub(message) or 'no reason given'}"
            )
        return msgspec.structs.replace(result, info_hash=info_hash, torrent=data)

    async def download(self, torrent: str | Torrent) -> bytes:
        """Download a .torrent and check it is the torrent asked for.

        Given a search result, its ``download_link`` is used when it is on this client's
        origin and its token has not expired: that request carries the token, not the key.
        Otherwise (no link, another origin, expired, or the token refused) the documented
        ``/api/torrents/download/<infoHash>`` is requested with the key.

        Args:
            torrent: An info hash (40 hex characters for v1, 64 for v2), or a :class:`Torrent`
                from :meth:`search`.

        Returns:
            The .torrent bytes.

        Raises:
            ValidationError: A malformed info hash; nothing was sent.
            NotFoundError: The tracker has no such torrent.
            IntegrityError: The answer is not a torrent, or not the one asked for.
            APIError: Any other refusal.
            TransportError: The server could not be reached.
        """
        body, _ = await self._download(torrent)
        return body

    async def _download(self, torrent: str | Torrent) -> tuple[bytes, TorrentInfo]:
        wanted = _wanted_hash(torrent)
        sender = self._require_open().sender
        link = (
            link_target(
                torrent.download_link,
                base_url=self._base_url,
                info_hash=wanted,
                now=self._wall(),
            )
            if isinstance(torrent, Torrent)
            else None
        )
        resp: Response | None = None
        if link is not None:
            try:
                # Same limiter (and key budget) as every download; only the key stays home.
                resp = await sender.send(
                    "download", "GET", link.path, params=link.params, authenticate=False
                )
            except APIError as exc:
                if not token_refused(exc):
                    raise
                logger.debug("download link refused (HTTP %d); using the key", exc.status)
        if resp is None:
            resp = await sender.send("download", "GET", f"/api/torrents/download/{wanted}")
        return resp.body, verify_torrent(resp.body, wanted)

    async def download_to(
        self,
        torrent: str | Torrent,
        path_or_dir: str | os.PathLike[str],
        *,
        overwrite: bool = False,
    ) -> Path:
        """Download a .torrent and save it atomically.

        The file is written to a temporary file in the target folder and renamed into place
        once complete and verified, so a reader never sees a half-written torrent and a
        failure or cancellation leaves nothing behind. The torrent is checked whole before it
        is published, which is why it is held in memory (at most ``max_body_size``).

        Args:
            torrent: An info hash (40 or 64 hexadecimal characters), or a :class:`Torrent`
                (its download link is used as :meth:`download` does).
            path_or_dir: A file path, or an existing folder to save into under the torrent's
                (sanitised) name.
            overwrite: Replace an existing file instead of raising.

        Returns:
            The path written.

        Raises:
            DestinationExistsError: The file exists and ``overwrite`` is False.
            ValidationError: A malformed info hash, a destination whose folder is missing, or
                a path that is not text (bytes, None) or holds a NUL or a lone surrogate.
            ConfigurationError: ``overwrite`` is not a bool.
            IntegrityError: The answer is not the torrent asked for.
            APIError: The server refused the download.
            TransportError: The server could not be reached.
        """
        info_hash = _wanted_hash(torrent)
        check_path(path_or_dir, "destination")
        check_bool(overwrite, "overwrite")
        # Fail before spending a request (and rate budget) on a file we may not write.
        try:
            target, is_dir = await anyio.to_thread.run_sync(
                check_destination, path_or_dir, overwrite
            )
        except LaCaleError:
            raise
        except OSError as exc:
            refused = StorageError(f"cannot write to {path_or_dir!s}: {exc.strerror or exc}")
            raise refused from None
        body, info = await self._download(torrent)
        try:
            if is_dir:
                target = resolve_destination(target, info.name or info_hash)
            return await write_atomic(target, body, overwrite=overwrite)
        except LaCaleError:
            raise
        except OSError as exc:
            failure = StorageError(f"cannot write {target}: {exc.strerror or exc}")
        raise failure

    def search_many(
        self,
        queries: Iterable[str | SearchQuery],
        *,
        concurrency: int = 8,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> AsyncIterator[SearchOutcome]:
        """Run many searches concurrently under the limiter, yielding each as it completes.

        Duplicate queries run once. One failing query never stops the batch: its outcome
        carries the error. Leaving the loop early cancels the searches still running.

        Args:
            queries: Query strings, or :class:`SearchQuery` objects with categories/TMDB id.
            concurrency: Most searches in flight at once.
            on_progress: Called with ``(done, total)`` after each query completes.

        Returns:
            An async iterator of :class:`SearchOutcome`.

        Raises:
            ValidationError: A query the API would refuse (raised before anything is sent).
            ClientStateError: The client is not open.
        """
        self._require_open()
        items: list[SearchQuery] = []
        for q in as_queries(queries):
            self._refuse_empty(check_query(q.query), check_tmdb_id(q.tmdb_id))
            cats = check_categories(q.categories)
            if cats != q.categories:
                # A list given for categories would make the query unhashable downstream.
                q = msgspec.structs.replace(q, categories=cats)
            items.append(q)

        live = self._require_open()
        budget = live.sender.budget
        plan = (
            BatchPlan(
                budget,
                items,
                request_key=lambda q: self._prepare_search(q.query, q.categories, q.tmdb_id)[0],
                cached=lambda key: (
                    live.search_peek is not None and live.search_peek(key) is not None
                ),
            )
            if budget is not None
            else None
        )

        async def run(item: SearchQuery) -> list[Torrent]:
            if plan is not None:
                await plan.admit(item)
            return await self.search(item.query, categories=item.categories, tmdb_id=item.tmdb_id)

        return search_many(run, items, concurrency=concurrency, on_progress=on_progress)

    def watch(
        self,
        queries: str | SearchQuery | Iterable[str | SearchQuery],
        *,
        interval: float | None = None,
        state: str | os.PathLike[str] | None = None,
        include_existing: bool = False,
        match: Callable[[Torrent], bool] | None = None,
        budget_share: float = 0.5,
        rng: random.Random | None = None,
    ) -> AsyncGenerator[WatchEvent, None]:
        """Watch searches for new releases, within a share of the key's daily budget.

        Each query is searched in turn (through the usual limiter, key budget and cache),
        spread over the interval with a little jitter, and each release not seen before (by
        info hash, guid without one) is yielded once. The first round of a query sets its
        baseline and yields nothing unless ``include_existing``. A transient failure (5xx,
        transport, 429, a spent budget) is logged at WARNING and the query retried at a later
        round, backing off when it repeats; any other error ends the iterator by raising it
        (401 and 403 among them). Close it with ``contextlib.aclosing``; closing or cancelling
        stops at once and leaves the state consistent. See ``docs/watch.md``.

        Args:
            queries: One query (a str or a :class:`SearchQuery`) or several; queries the
                tracker answers alike once normalised are polled once.
            interval: Seconds between two polls of one query; None chooses the shortest that
                keeps the watch within ``budget_share`` of the key's longest ``key_rate``
                window (logged at INFO), never below ``cache_ttl``.
            state: A file where what was seen is kept (SQLite), so a restarted watch yields
                what appeared while it was down and nothing twice; None keeps it in memory.
            include_existing: Yield what the first round lists too.
            match: Called with each new release; only those it returns True for are yielded
                (the others are still remembered as seen).
            budget_share: The share (0 to 1] of the key's longest window the watch may spend.
            rng: Source of the jitter (tests pass a seeded one).

        Returns:
            An async generator of :class:`WatchEvent`, running until closed or cancelled.

        Raises:
            ValidationError: A query ``search()`` would refuse, raised here.
            ConfigurationError: A bad option or an interval under ``cache_ttl``, raised here;
                an interval that would overspend ``budget_share``, raised by the iterator
                before anything is sent (the message says which interval fits).
            StorageError: The state file cannot be used (raised by the iterator, at once).
            ClientStateError: The client is not open.
        """
        self._require_open()
        settings = check_watch(
            queries,
            interval=interval,
            state=state,
            include_existing=include_existing,
            match=match,
            budget_share=budget_share,
            rng=rng,
            origin=self._base_url,
            cache_ttl=self._cache_ttl,
            refuse_empty=self._refuse_empty,
        )
        return watch_releases(self, settings, self._clock)

    # -- plumbing --------------------------------------------------------------------------

    def _refuse_empty(self, query: str | None, tmdb_id: str | None) -> None:
        """Refuse, before sending, a search the live tracker answers 400 (no query, no TMDB id).

        Prowlarr's definition says "API dont accept empty request" and, like Jackett's, sends
        ``q=FRENCH`` when it has no keywords; the documentation calls ``q`` optional.
        """
        if (
            tmdb_id is None
            and (query is None or not query.strip())
            and not (self._allow_empty_search)
        ):
            raise ValidationError(
                "a search needs a query or a TMDB id: the live tracker refuses searches without "
                "one (Prowlarr and Jackett send q='FRENCH' to list recent releases). For a "
                "server that accepts them, create the client with allow_empty_search=True"
            )

    def _scrub(self, text: str) -> str:
        """Remove the key (in any form the SDK sends it, or as a query parameter) from text."""
        return self._key.redact(text)

    def _decode(self, resp: Response, decoder: Callable[[bytes], T], promised: str) -> T:
        return decode_body(resp, decoder, promised, self._scrub)


class _Live:
    """What exists only while the client is open (created in open(), dropped in aclose())."""

    __slots__ = (
        "loop",
        "meta_cache",
        "meta_flight",
        "search_cache",
        "search_flight",
        "search_peek",
        "sender",
        "transport",
    )

    def __init__(
        self,
        *,
        sender: Sender,
        search_cache: Cache[tuple[Torrent, ...]],
        meta_cache: Cache[Meta],
    ) -> None:
        # The loop that opened the client: its session and single-flight live there.
        self.loop = asyncio.get_running_loop()
        self.sender = sender
        self.transport = sender.transport
        self.search_cache = search_cache
        self.meta_cache = meta_cache
        # The in-process cache can be read without a coroutine on the hot path.
        self.search_peek: Callable[[str], tuple[Torrent, ...] | None] | None = (
            search_cache.get_nowait if isinstance(search_cache, MemoryCache) else None
        )
        self.search_flight: SingleFlight[tuple[Torrent, ...]] = SingleFlight()
        self.meta_flight: SingleFlight[Meta] = SingleFlight()

    def is_cached(self, key: str) -> bool:
        """True when the in-process search cache answers ``key`` now (False: unknown)."""
        peek = self.search_peek
        return peek is not None and peek(key) is not None


def _wanted_hash(torrent: str | Torrent) -> str:
    """Return the checked, lowercase info hash of a download's target."""
    return check_info_hash(torrent.info_hash if isinstance(torrent, Torrent) else torrent)


def _memo_key(query: object, categories: object, tmdb_id: object) -> object | None:
    """Return the prepared-search memo key of a search, or None when it must not be memoised.

    Only exact builtin types are memoised (str or None query, str or tuple-of-str categories,
    int, str or None TMDB id), and their equality is the builtin one, so an input that merely
    compares equal to a validated one (``True == 1``, ``1.0 == 1``, a str subclass or any
    object with its own ``__eq__``) never reuses its validation. The types of categories and
    TMDB id are in the key, so ``"films"`` and ``("films",)``, or ``1`` and ``"1"``, are kept
    apart even though they validate alike. ``search("text")`` is keyed by the text alone: the
    client's inlined fast path looks it up that way.
    """
    if query is not None and query.__class__ is not str:
        return None
    if tmdb_id is not None and tmdb_id.__class__ is not int and tmdb_id.__class__ is not str:
        return None
    if type(categories) is tuple:
        if not all(type(c) is str for c in categories):
            return None
        if not categories and tmdb_id is None and query is not None:
            return query
    elif type(categories) is not str:
        return None
    return (query, categories.__class__, categories, tmdb_id.__class__, tmdb_id)


def _is_limiter_object(arg: object) -> bool:
    return isinstance(arg, (aiolimiter.AsyncLimiter, RateLimiter))
