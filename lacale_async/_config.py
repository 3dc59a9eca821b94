"""A client's options, checked once at construction: a typo fails there, not at a request.

The vocabulary of the options lives here too: their types (re-exported from the modules that
define them, so the client names one module for its signature) and their defaults.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

import aiolimiter

from ._clock import Clock, MonotonicClock, wall_clock
from ._endpoints import Endpoint
from ._errors import ConfigurationError
from ._limiter import Rate, RateArg, RateLimiter, parse_rates
from ._options import YEAR, check_bool, check_options, describe
from ._origin import check_api_key, check_base_url
from ._quota import (
    DEFAULT_KEY_RATE,
    KeyRateArg,
    OnQuota,
    QuotaStoreArg,
    resolve_key_rate,
    resolve_quota_store,
)
from ._quota_store import auto_store_path
from ._secret import wire_secret
from ._stores import Backend, KeyLedgerBackend, LocalBackend, derive_scope
from ._torrent import SourcePolicy, check_source_policy
from ._transport import AuthMode
from ._wait_event import OnWait

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_DOWNLOAD_RATE",
    "DEFAULT_KEY_RATE_OPTION",
    "DEFAULT_META_RATE",
    "DEFAULT_SEARCH_RATE",
    "DEFAULT_UPLOAD_RATE",
    "AuthMode",
    "Backend",
    "ClientConfig",
    "ClientOptions",
    "Clock",
    "EndpointRate",
    "KeyRateArg",
    "OnQuota",
    "OnWait",
    "QuotaStoreArg",
    "RateArg",
    "SourcePolicy",
]

EndpointRate = list[Rate] | RateLimiter | aiolimiter.AsyncLimiter | None
"""An endpoint's checked rate option: parsed rates, a limiter object used as given, or None."""

DEFAULT_BASE_URL = "https://la-cale.space"
"""The live tracker's origin, used when neither ``base_url`` nor ``LACALE_BASE_URL`` is set."""

# Prowlarr's and Jackett's definitions for La Cale wait about 2 s between requests; one request
# per 2 s per endpoint is the pace the tracker already sees from every indexer, so it is safe.
DEFAULT_SEARCH_RATE: RateArg = (1, 2.0)
DEFAULT_DOWNLOAD_RATE: RateArg = (1, 2.0)
DEFAULT_META_RATE: RateArg = (1, 2.0)
# Documented: "rate limiting strict (30/min)".
DEFAULT_UPLOAD_RATE: RateArg = (30, 60.0)
DEFAULT_KEY_RATE_OPTION: KeyRateArg = tuple(DEFAULT_KEY_RATE)
"""The ``key_rate`` default, one object: passing it (not an equal value) lets
``LACALE_KEY_RATE`` replace it. Live, not documented: see :data:`DEFAULT_KEY_RATE`."""

# A unit in flight in a shared store counts as done this long after the request's timeout.
_LEASE_EXTRA = 10.0
# Upper bound of the timeout (the other durations take up to a YEAR).
_DAY = 86_400.0


class ClientOptions(TypedDict):
    """Every ``LaCaleClient`` option but the key, as given (see the client's docstring)."""

    base_url: str
    auth: AuthMode
    search_rate: RateArg
    upload_rate: RateArg
    download_rate: RateArg
    meta_rate: RateArg
    cache_ttl: float
    meta_ttl: float
    cache_size: int
    max_retries: int
    timeout: float
    max_body_size: int
    source_policy: SourcePolicy
    allow_insecure_http: bool
    backend: Backend | None
    clock: Clock | None
    max_retry_wait: float
    user_agent: str | None
    allow_empty_search: bool
    key_rate: KeyRateArg
    quota_store: QuotaStoreArg
    on_quota: OnQuota
    max_quota_wait: float
    on_wait: OnWait | None


class ClientConfig:
    """A client's options once checked, with what follows from them (scope, clocks, lease).

    Args:
        api_key: The key, or None to read ``LACALE_API_KEY``.
        **options: The client's other options.

    Raises:
        ConfigurationError: The first option that is wrong, named.
    """

    def __init__(self, api_key: str | None, **options: Unpack[ClientOptions]) -> None:
        key = check_api_key(api_key if api_key is not None else os.environ.get("LACALE_API_KEY"))
        self.key = wire_secret(key)
        try:
            self._take(key, options)
            return
        except ConfigurationError as exc:
            # The key pasted into another option (LACALE_BASE_URL=<key> in a .env file) is
            # quoted by that option's message: it must not reach a traceback or a log.
            scrub = self.key.scrub
            hint = scrub(exc.hint) if exc.hint else None
            refused = ConfigurationError(scrub(exc.reason), option=exc.option, hint=hint)
        # Raised outside the except clause: inside, the original (with the key) would stay
        # reachable as __context__ even "from None".
        raise refused

    def _take(self, key: str, options: ClientOptions) -> None:
        """Check and keep every option but the key (raising ConfigurationError)."""
        base_url = options["base_url"]
        if base_url == DEFAULT_BASE_URL:
            base_url = os.environ.get("LACALE_BASE_URL") or DEFAULT_BASE_URL
        self.base_url = check_base_url(base_url, allow_insecure_http=options["allow_insecure_http"])
        if self.key.found_in(self.base_url):
            # Shown in reprs, logs and every error's URL; no tracker's address holds the key.
            raise ConfigurationError(
                "base_url contains the API key; give the key as api_key (or LACALE_API_KEY) "
                "and the tracker's address alone as base_url"
            )
        _check_plain_options(options)
        self.auth: AuthMode = options["auth"]
        self.rates = _checked_rates(options)
        self.source_policy = check_source_policy(options["source_policy"], ConfigurationError)
        self.allow_empty_search = check_bool(options["allow_empty_search"], "allow_empty_search")
        self.cache_ttl = float(options["cache_ttl"])
        self.meta_ttl = float(options["meta_ttl"])
        self.cache_size = options["cache_size"]
        self.max_retries = options["max_retries"]
        self.max_retry_wait = float(options["max_retry_wait"])
        self.timeout = float(options["timeout"])
        self.max_body_size = options["max_body_size"]
        self.user_agent = options["user_agent"]
        backend, clock = options["backend"], options["clock"]
        self.backend: Backend = backend if backend is not None else LocalBackend()
        self.clock: Clock = clock if clock is not None else MonotonicClock()
        # Wall time (Unix seconds) for what outlives this process: persisted key windows, and
        # the expiry of download-link tokens. It moves with ``clock``, so tests need only one.
        self.wall: Callable[[], float] = wall_clock(self.clock)
        key_rate = options["key_rate"]
        self.key_rate = resolve_key_rate(key_rate, is_default=key_rate is DEFAULT_KEY_RATE_OPTION)
        self.quota_store = _checked_quota_store(self.backend, options)
        self.on_quota: OnQuota = options["on_quota"]
        self.max_quota_wait = float(options["max_quota_wait"])
        self.on_wait = options["on_wait"]
        if self.on_wait is not None and not callable(self.on_wait):
            raise ConfigurationError(
                f"on_wait must be a callable or None, not {type(self.on_wait).__name__}"
            )
        # How long a unit in flight counts before a shared store takes its process for dead.
        self.lease = self.timeout + _LEASE_EXTRA
        # The scope names this key at this origin without revealing the key: limiters and
        # cache entries are shared within a scope and never across scopes.
        self.scope = derive_scope(key, self.base_url)

    def __repr__(self) -> str:
        return f"<ClientConfig base_url={self.base_url!r} auth={self.auth!r}>"


def _check_plain_options(options: ClientOptions) -> None:
    check_options(
        auth=options["auth"],
        seconds={
            "cache_ttl": (options["cache_ttl"], 0.0, YEAR),
            "meta_ttl": (options["meta_ttl"], 0.0, YEAR),
            "max_retry_wait": (options["max_retry_wait"], 0.0, YEAR),
            "max_quota_wait": (options["max_quota_wait"], 0.0, YEAR),
            "timeout": (options["timeout"], None, _DAY),
        },
        counts={
            "max_retries": (options["max_retries"], 0),
            "cache_size": (options["cache_size"], 1),
            "max_body_size": (options["max_body_size"], 1),
        },
        user_agent=options["user_agent"],
        objects={"backend": (options["backend"], Backend), "clock": (options["clock"], Clock)},
    )


def _checked_rates(options: ClientOptions) -> dict[Endpoint, EndpointRate]:
    """Check every rate now, so a typo fails at construction, not at the first request."""
    given: dict[Endpoint, RateArg] = {
        "search": options["search_rate"],
        "upload": options["upload_rate"],
        "download": options["download_rate"],
        "meta": options["meta_rate"],
    }
    rates: dict[Endpoint, EndpointRate] = {}
    for endpoint, arg in given.items():
        if arg is None or isinstance(arg, (aiolimiter.AsyncLimiter, RateLimiter)):
            rates[endpoint] = arg
        else:
            rates[endpoint] = parse_rates(arg, name=f"{endpoint}_rate")
    return rates


def _checked_quota_store(backend: Backend, options: ClientOptions) -> Path | None:
    """Validate ``on_quota`` and ``quota_store``; return the local store's file or None.

    Raises:
        ConfigurationError: A bad ``on_quota`` or ``quota_store``, or a store path given with
            a backend that keeps the key budget itself (the fleet's one store is Redis).
    """
    on_quota, quota_store = options["on_quota"], options["quota_store"]
    if on_quota not in ("raise", "wait"):
        raise ConfigurationError(f"on_quota must be 'raise' or 'wait', not {describe(on_quota)}")
    if (
        isinstance(backend, KeyLedgerBackend)
        and not isinstance(backend, LocalBackend)
        and quota_store not in ("auto", None)
    ):
        raise ConfigurationError(
            f"quota_store does not apply with {type(backend).__name__}: it keeps the key "
            "budget itself, one store for every process; drop quota_store"
        )
    return resolve_quota_store(quota_store, auto=auto_store_path)
