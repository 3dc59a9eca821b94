"""``LaCaleClient``: options, lifecycle, argument checks and result shaping, over the engine."""

from __future__ import annotations

import os
import random
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Sequence

from ._batch_quota import planned
from ._bulk import SearchOutcome, SearchQuery, search_many
from ._cache import NO_READS
from ._cached import CacheMode
from ._cancel import run_to_end
from ._config import (
    DEFAULT_BASE_URL,
    DEFAULT_DOWNLOAD_RATE,
    DEFAULT_KEY_RATE_OPTION,
    DEFAULT_META_RATE,
    DEFAULT_SEARCH_RATE,
    DEFAULT_UPLOAD_RATE,
    AuthMode,
    Backend,
    ClientConfig,
    Clock,
    KeyRateArg,
    OnQuota,
    OnWait,
    QuotaStoreArg,
    RateArg,
    SourcePolicy,
)
from ._engine import Engine
from ._lifecycle import ClientState, Lifecycle, Openable
from ._models import Meta, Torrent
from ._quota import Quota
from ._search_args import SearchArgs
from ._stats import ClientStats, StatsRecorder
from ._transfers import Transfers
from ._watch import Delivery, WatchEvent, watch_releases
from ._watch_plan import check_watch

__all__ = ["DEFAULT_BASE_URL", "CacheMode", "ClientState", "LaCaleClient"]

_HOW_TO_OPEN = "use 'async with LaCaleClient(...) as client:' or 'await client.open()'"
_AFTER_CLOSE = "create a new LaCaleClient"

_NO_CATEGORIES: tuple[str, ...] = ()


class LaCaleClient(Openable[Engine], Transfers):
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
        timeout: Seconds for one request sent on the network, body read included (kept to
            within 0.05 s): each retry and each followed redirect has its own.
        max_body_size: Largest answer accepted, in bytes.
        source_policy: What ``upload`` does when the torrent lacks the ``lacale`` source flag:
            ``set`` it (default), ``refuse``, or ``keep`` the torrent as is.
        allow_insecure_http: Allow plain http to a non-loopback host (the key in clear text).
        backend: Where limiters and caches live; default in-process. A shared backend (Redis)
            makes several processes share one budget and one cache.
        clock: Time source for limiters, caches and retry delays; tests pass a fake one.
        max_retry_wait: Longest ``Retry-After`` the client waits out before giving up.
        user_agent: User-Agent header.
        allow_empty_search: Send searches with neither a query nor a TMDB id (the live tracker
            refuses them: by default ``ValidationError``, unsent) to a server that lists the
            latest torrents instead, as documented.
        key_rate: The key-wide budget every request that reaches the network spends, all
            endpoints together: ``(calls, period)`` pairs that must all hold, or None. Default
            ``[(60, 60.0), (200, 86400.0)]`` (the live limits), or ``LACALE_KEY_RATE``.
        quota_store: Where the key budget outlives a restart, shared by this machine's
            processes: a SQLite file path, ``"auto"`` (in the user's cache folder, or
            ``LACALE_QUOTA_STORE``) or None (memory; also ``"memory"``). A fleet backend
            keeps it itself.
        on_quota: When a long key window (the daily budget) is spent: ``"raise"``
            :class:`QuotaExceededError` before sending, or ``"wait"`` up to ``max_quota_wait``
            seconds. Windows no longer than that (the 60 a minute) are always waited out.
        max_quota_wait: Longest wait for the key budget with ``on_quota="wait"``.
        on_wait: Called with a :class:`WaitEvent` when a request starts waiting for its
            endpoint's limiter or the key budget, and when that wait ends (progress displays).

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
        key_rate: KeyRateArg = DEFAULT_KEY_RATE_OPTION,
        quota_store: QuotaStoreArg = "auto",
        on_quota: OnQuota = "raise",
        max_quota_wait: float = 120.0,
        on_wait: OnWait | None = None,
    ) -> None:
        self._config = config = ClientConfig(
            api_key,
            base_url=base_url,
            auth=auth,
            search_rate=search_rate,
            upload_rate=upload_rate,
            download_rate=download_rate,
            meta_rate=meta_rate,
            cache_ttl=cache_ttl,
            meta_ttl=meta_ttl,
            cache_size=cache_size,
            max_retries=max_retries,
            timeout=timeout,
            max_body_size=max_body_size,
            source_policy=source_policy,
            allow_insecure_http=allow_insecure_http,
            backend=backend,
            clock=clock,
            max_retry_wait=max_retry_wait,
            user_agent=user_agent,
            allow_empty_search=allow_empty_search,
            key_rate=key_rate,
            quota_store=quota_store,
            on_quota=on_quota,
            max_quota_wait=max_quota_wait,
            on_wait=on_wait,
        )
        self._life = Lifecycle("client", how_to_open=_HOW_TO_OPEN, after_close=_AFTER_CLOSE)
        self._opened: Engine | None = None  # the engine, exactly while open
        self._stats = StatsRecorder()
        self._search_args = SearchArgs(config.scope, allow_empty=config.allow_empty_search)
        self._prepared = self._search_args.memo
        self._hit_reads = NO_READS  # see _start

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The origin this client talks to."""
        return self._config.base_url

    @property
    def stats(self) -> ClientStats:
        """A snapshot of this client's counters."""
        return self._stats.snapshot()

    async def quota(self) -> Quota:
        """Return what is left of the key-wide budget, every client of the key counted.

        Returns:
            Each key window's usage, what is left and when a request may go (None: no key_rate).

        Raises:
            ClientStateError: The client is not open.
            BackendError: A fleet backend's Redis failed (``on_redis_error="fail"``).
        """
        return await self._require_open().quota()

    async def _start(self) -> Engine:
        engine = await Engine.start(self._config, self._stats)  # in the loop that opens us
        self._hit_reads = engine.search.reads or NO_READS  # the cache's C-level reads, for hits
        return engine

    async def _stop(self, engine: Engine) -> None:
        self._hit_reads = NO_READS  # before any await: once closed, no hit may be answered
        # Finished even when the close itself is cancelled: the client already counts as closed.
        await run_to_end(engine.aclose())

    def _check_closable(self, engine: Engine) -> None:
        engine.check_loop()  # from another loop, its session cannot be closed here

    def __repr__(self) -> str:
        config = self._config
        return (
            f"<LaCaleClient base_url={config.base_url!r} auth={config.auth!r} "
            f"state={self._life.state.value}>"
        )

    def _require_open(self) -> Engine:
        engine = super()._require_open()
        engine.check_loop()
        return engine

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
            query: Text (at most 200 characters). The live tracker refuses a search without
                a query or TMDB id (indexers send ``"FRENCH"`` to list recent releases).
            categories: One category slug or several (``films``, ``series``...).
            tmdb_id: Exact TMDB id.
            cache: ``use`` the cache, ``refresh`` it, or ``bypass`` it for this call.

        Returns:
            The matching torrents (a new list the caller may modify).

        Raises:
            ValidationError: Input the API would refuse (no query nor TMDB id, unless the
                client has ``allow_empty_search``); nothing was sent.
            QuotaExceededError: The key-wide budget is spent; nothing was sent.
            APIError: The server refused the search (after retries, for 429 and 5xx).
            TransportError: The server could not be reached (after retries).
            ResponseError: The answer was not the promised JSON.
            ClientStateError: The client is not open.
        """
        # search("text") from the cache in C-level calls: memoised key, lookup, clock, LRU mark.
        looked = False  # True: the cache's own lookup below missed
        if (
            query.__class__ is str
            and categories is _NO_CATEGORIES
            and tmdb_id is None
            and cache == "use"
        ):
            try:
                key, params = self._prepared[query]  # on a hit, 120 instructions under .get()
            except KeyError:
                key, params = self._search_args.prepare_text(query)
            lookup, touch, now = self._hit_reads  # self._x() would be a slow method lookup
            entry = lookup(key)
            if entry is not None and entry[0] > now():
                touch(key)
                self._stats.cache_hits += 1
                return [*entry[1]]
            looked = True
        else:
            key, params = self._search_args.prepare(query, categories, tmdb_id)
        engine = self._opened or self._require_open()
        call = engine.search
        if cache != "use" or call.ttl <= 0 or (looked and call.reads is not None):
            # No cache to read, or its own lookup above missed: no engine.get coroutine.
            found = await engine.fetch(call, key, params, mode=cache)
        else:
            found = await engine.get(call, key, params, mode=cache)
        return [*found]

    async def meta(self, *, cache: CacheMode = "use") -> Meta:
        """Fetch categories, tag groups and ungrouped tags (cached for ``meta_ttl``).

        Args:
            cache: ``use`` the cache, ``refresh`` it, or ``bypass`` it for this call.

        Returns:
            The tracker's metadata.

        Raises:
            QuotaExceededError: The key-wide budget is spent; nothing was sent.
            APIError: The server refused the request.
            TransportError: The server could not be reached.
            ResponseError: The answer was not the promised JSON.
            ClientStateError: The client is not open.
        """
        engine = self._require_open()
        return await engine.get(engine.meta, engine.meta_key, mode=cache)

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
        engine = self._require_open()
        items = self._search_args.check_batch(queries)
        run = planned(
            lambda q: self.search(q.query, categories=q.categories, tmdb_id=q.tmdb_id),
            items,
            engine.budget,
            request_key=self._search_args.request_key,
            cached=engine.is_cached,
        )
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
    ) -> AsyncGenerator[WatchEvent, Delivery | None]:
        """Watch searches for new releases, within a share of the key's daily budget.

        Each query is searched in turn (limiter, key budget and cache as usual), spread over
        the interval with jitter; each release not seen before (by info hash) is yielded once,
        after a first round that sets the baseline. A transient failure (5xx, transport, 429,
        spent budget) is logged and retried later with backoff; any other error (401, 403...)
        ends the iterator. Delivery is at least once (``asend(Delivery.LATER)`` defers one);
        close with ``contextlib.aclosing``. See ``docs/watch.md``.

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
            An async generator of :class:`WatchEvent`, running until closed or cancelled; it
            accepts a :class:`Delivery` through ``asend``.

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
            origin=self._config.base_url,
            cache_ttl=self._config.cache_ttl,
            refuse_empty=self._search_args.refuse_empty,
        )
        return watch_releases(self, settings, self._config.clock, self._config.key.redact)
