"""lacale_async: the async-first SDK for the La Cale tracker API.

Everything public is re-exported here; the ``_``-prefixed modules are implementation details.
"""

from ._bulk import SearchOutcome, SearchQuery
from ._cache import Cache, MemoryCache
from ._client import DEFAULT_BASE_URL, CacheMode, ClientState, LaCaleClient
from ._clock import Clock, FakeClock, MonotonicClock
from ._errors import (
    APIError,
    AuthenticationError,
    BackendError,
    BadRequestError,
    ClientStateError,
    ConfigurationError,
    ConflictError,
    ConnectError,
    DestinationExistsError,
    IntegrityError,
    InvalidTorrentError,
    LaCaleError,
    NotFoundError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    RequestTimeoutError,
    ResponseError,
    ServerError,
    StorageError,
    TransportError,
    UploadRejectedError,
    ValidationError,
)
from ._limiter import AsyncLimiterAdapter, RateLimiter, WindowLimiter
from ._magnet import magnet_uri
from ._models import Category, Meta, Tag, TagGroup, Torrent, UploadResult
from ._quota import DEFAULT_KEY_RATE, OnQuota, Quota, QuotaWindow
from ._stats import ClientStats, EndpointStats, KeyBudgetStats
from ._stores import Backend, LocalBackend
from ._torrent import (
    SOURCE_FLAG,
    SourcePolicy,
    TorrentInfo,
    apply_source_flag,
    info_hash_v1,
    info_hash_v2,
    parse_torrent,
    verify_torrent,
)
from ._version import __version__
from ._wait_event import WaitEvent
from ._watch import Delivery, WatchEvent

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_KEY_RATE",
    "SOURCE_FLAG",
    "APIError",
    "AsyncLimiterAdapter",
    "AuthenticationError",
    "Backend",
    "BackendError",
    "BadRequestError",
    "Cache",
    "CacheMode",
    "Category",
    "ClientState",
    "ClientStateError",
    "ClientStats",
    "Clock",
    "ConfigurationError",
    "ConflictError",
    "ConnectError",
    "Delivery",
    "DestinationExistsError",
    "EndpointStats",
    "FakeClock",
    "IntegrityError",
    "InvalidTorrentError",
    "KeyBudgetStats",
    "LaCaleClient",
    "LaCaleError",
    "LocalBackend",
    "MemoryCache",
    "Meta",
    "MonotonicClock",
    "NotFoundError",
    "OnQuota",
    "PermissionDeniedError",
    "Quota",
    "QuotaExceededError",
    "QuotaWindow",
    "RateLimitError",
    "RateLimiter",
    "RequestTimeoutError",
    "ResponseError",
    "SearchOutcome",
    "SearchQuery",
    "ServerError",
    "SourcePolicy",
    "StorageError",
    "Tag",
    "TagGroup",
    "Torrent",
    "TorrentInfo",
    "TransportError",
    "UploadRejectedError",
    "UploadResult",
    "ValidationError",
    "WaitEvent",
    "WatchEvent",
    "WindowLimiter",
    "__version__",
    "apply_source_flag",
    "info_hash_v1",
    "info_hash_v2",
    "magnet_uri",
    "parse_torrent",
    "verify_torrent",
]
