"""Every error the SDK raises, in one tree rooted at `LaCaleError`.

```text
LaCaleError
├── ValidationError (also ValueError)        bad input, raised before any request
│   └── InvalidTorrentError                  not a torrent the tracker would accept
├── ConfigurationError (also ValueError)     no key, plain http to a remote host, bad options
├── ClientStateError (also RuntimeError)     client used before open(), after aclose(), or
│                                            from another event loop than the one it opened on
├── APIError                                 the server answered with a non-2xx status
│   ├── BadRequestError                      400, 422
│   ├── AuthenticationError                  401 (key missing, or refused by the live tracker)
│   ├── PermissionDeniedError                403 (key invalid per docs, client blocked,
│   │                                            Cloudflare challenge)
│   ├── NotFoundError                        404
│   ├── ConflictError                        409 (torrent already on the tracker)
│   ├── RateLimitError                       429 (.retry_after)
│   │   └── QuotaExceededError               key-wide budget spent: refused before sending
│   └── ServerError                          5xx and Cloudflare 52x
├── ResponseError                            2xx, but not what the endpoint promises
│   ├── UploadRejectedError                  upload answered ``success: false``
│   └── IntegrityError                       downloaded torrent is not the one asked for
├── TransportError                           reset connection, truncated body
│   ├── ConnectError                         could not connect: nothing was sent
│   └── RequestTimeoutError                  the whole request took longer than ``timeout``
├── StorageError (also OSError)              download_to() could not write the file
│   └── DestinationExistsError (also FileExistsError)  it would overwrite a file
└── BackendError                             a shared limiter/cache backend failed
```

A status without a class of its own raises `ServerError` for 5xx, plain `APIError` otherwise.
Messages never contain the API key: URLs are redacted before they are put in a message.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._wording import Worded

__all__ = [
    "NOT_SENT",
    "STATUS_ERRORS",
    "APIError",
    "APIErrorDetails",
    "AuthenticationError",
    "BackendError",
    "BadRequestError",
    "ClientStateError",
    "ConfigurationError",
    "ConflictError",
    "ConnectError",
    "DestinationExistsError",
    "IntegrityError",
    "InvalidTorrentError",
    "LaCaleError",
    "NotFoundError",
    "PermissionDeniedError",
    "QuotaExceededError",
    "RateLimitError",
    "RequestTimeoutError",
    "ResponseError",
    "ServerError",
    "StorageError",
    "TransportError",
    "UploadRejectedError",
    "ValidationError",
    "error_for_status",
    "hide_credentials",
    "redact_url",
]

# Any query parameter that can carry a credential, whatever the API version (or another
# server) calls it: a name ending in key or token (access_token, X-Api-Key), after "?", "&"
# or ";" (an HTML page's "&amp;apikey=").
_SECRET_PARAM = re.compile(r"(?i)([?&;][\w.-]*(?:key|token)=)[^&#\s]*")


def redact_url(url: object) -> str:
    """Return ``url`` as text with every credential query parameter replaced by ``***``.

    Args:
        url: A URL as ``str`` or ``yarl.URL`` (anything with a ``str()``).

    Returns:
        The URL text, safe to log or to put in an exception message.
    """
    return _SECRET_PARAM.sub(r"\1***", str(url))


# The userinfo of a URL: "scheme://user:password@" (or without the scheme).
_USERINFO = re.compile(r"^((?:[^:/?#]*:)?//)[^/?#]*@")


def hide_credentials(url: str) -> str:
    """Return ``url`` without its userinfo, query and fragment: for a URL that failed to parse.

    :func:`redact_url` knows the credential parameters of a URL that parses; a base URL the
    user mistyped may hold the key anywhere after its host, or in its userinfo.
    """
    text = _USERINFO.sub(r"\1***@", url)
    cuts = [i for i in (text.find("?"), text.find("#")) if i >= 0]
    return text[: min(cuts) + 1] + "***" if cuts else text


class LaCaleError(Exception):
    """Root of every error raised by ``lacale_async``.

    Attributes:
        message: The message, also what ``str()`` gives (the hint included).
        outcome_unknown: True when a non-idempotent upload had been sent before the failure,
            so the tracker may or may not have recorded it (search before re-uploading).
        reason: What went wrong, without the hint.
        option: The option or call that gets past the error (``"overwrite"``,
            ``"allow_insecure_http"``, ``"allow_empty_search"``, ``"source_policy"``,
            ``"api_key"``, ``"meta"``, ``"path_or_dir"``), or None.
            A front end (the ``lacale`` command) names its own equivalent from it.
        hint: The advice in Python terms (``"pass overwrite=True to replace it"``), or None.
        wording: The message as a function of how settings are named, when it names some
            (``key_rate``): a front end writes it with its own names (see ``_wording``).
    """

    outcome_unknown: bool = False
    option: str | None = None
    hint: str | None = None
    wording: Worded | None = None

    def __init__(
        self,
        message: str,
        *,
        option: str | None = None,
        hint: str | None = None,
        wording: Worded | None = None,
    ) -> None:
        text = f"{message}; {hint}" if hint else message
        super().__init__(text)
        self.message = text
        self.reason = message
        self.option = option
        self.hint = hint
        self.wording = wording

    def __str__(self) -> str:
        return self.message


class ValidationError(LaCaleError, ValueError):
    """Input the tracker would refuse, caught before any request is sent."""


class InvalidTorrentError(ValidationError):
    """Bytes that are not a well-formed torrent (bad bencode, no ``info`` dict, wrong types)."""


class ConfigurationError(LaCaleError, ValueError):
    """The client cannot be built as asked (no API key, plain http to a remote host...)."""


class ClientStateError(LaCaleError, RuntimeError):
    """The client was used before it was opened, after it was closed, or from another loop."""


class APIErrorDetails(TypedDict, total=False):
    """What an :class:`APIError` says of the answer besides its status, every key optional.

    Listed once, here: each :class:`APIError` subclass takes them as ``**details``.
    """

    server_message: str
    url: str
    outcome_unknown: bool
    wording: Worded


class APIError(LaCaleError):
    """The server answered with a non-2xx status.

    Attributes:
        status: The HTTP status code.
        server_message: The message the server gave (JSON ``error``/``message`` or text), or "".
        url: The request URL with credentials redacted.
        outcome_unknown: True when the request was a non-idempotent upload whose body had
            already been sent, so the tracker may or may not have recorded it.
    """

    def __init__(self, message: str, *, status: int, **details: Unpack[APIErrorDetails]) -> None:
        super().__init__(message, wording=details.get("wording"))
        self.status = status
        self.server_message = details.get("server_message", "")
        self.url = redact_url(details.get("url", ""))
        self.outcome_unknown = details.get("outcome_unknown", False)


class BadRequestError(APIError):
    """400 or 422: the request was malformed or a field was refused."""


class AuthenticationError(APIError):
    """401: no API key reached the server, or (live tracker) it was refused."""


class PermissionDeniedError(APIError):
    """403: the key is invalid (documented), the client is blocked, or Cloudflare challenges it.

    The message says which, from the answer: a JSON ``Access denied`` is a block, an HTML page
    a Cloudflare challenge.
    """


class NotFoundError(APIError):
    """404: no such torrent or endpoint."""


class ConflictError(APIError):
    """409: a torrent with the same info hash is already on the tracker.

    Attributes:
        info_hash: The info hash that collided, when the SDK knows it.
    """

    def __init__(
        self,
        message: str,
        *,
        info_hash: str | None = None,
        status: int = 409,
        **details: Unpack[APIErrorDetails],
    ) -> None:
        super().__init__(message, status=status, **details)
        self.info_hash = info_hash


class RateLimitError(APIError):
    """429: the tracker's rate limit for this key or IP was exceeded.

    Attributes:
        retry_after: Seconds the server asked to wait, or None when it did not say.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status: int = 429,
        **details: Unpack[APIErrorDetails],
    ) -> None:
        super().__init__(message, status=status, **details)
        self.retry_after = retry_after


class QuotaExceededError(RateLimitError):
    """The key-wide budget is spent: the SDK refused the request *before anything was sent*.

    Raised with ``on_quota="raise"`` (default) when a long key window (the daily budget) or a
    429 pause holds the next request back, and with ``on_quota="wait"`` when the wait would be
    longer than ``max_quota_wait``. ``status`` is 429, what the tracker would have answered.

    Attributes:
        retry_after: Seconds until one request may go (at least; more may be in flight).
        retry_at: The same moment as an aware UTC datetime.
        window: The ``(calls, period)`` window that is spent, or None for a 429 pause.
        used: Requests counted in that window when refused.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float,
        retry_at: datetime,
        window: tuple[int, float] | None = None,
        used: int = 0,
        **details: Unpack[APIErrorDetails],
    ) -> None:
        super().__init__(message, status=429, retry_after=retry_after, **details)
        self.retry_at = retry_at
        self.window = window
        self.used = used


class ServerError(APIError):
    """5xx, or a Cloudflare 52x: the tracker or its proxy failed."""


class ResponseError(LaCaleError):
    """A 2xx answer whose body is not what the endpoint promises (HTML page, bad JSON...)."""


class UploadRejectedError(ResponseError):
    """The upload endpoint answered 200 with ``success: false``."""


class IntegrityError(ResponseError):
    """The downloaded file is not a torrent, or not the torrent that was asked for."""


class TransportError(LaCaleError):
    """The request did not complete: connection refused or reset, truncated body.

    Attributes:
        outcome_unknown: True when an upload body may have reached the server before the failure.
    """

    def __init__(self, message: str, *, outcome_unknown: bool = False) -> None:
        super().__init__(message)
        self.outcome_unknown = outcome_unknown


class ConnectError(TransportError):
    """No connection could be made (refused, DNS, TLS handshake): the request was never sent."""


class RequestTimeoutError(TransportError):
    """The whole request, body read included, took longer than the client's ``timeout``."""


class StorageError(LaCaleError, OSError):
    """``download_to()`` could not write where it was asked (permissions, disk full...)."""


class DestinationExistsError(StorageError, FileExistsError):
    """``download_to()`` would overwrite an existing file and ``overwrite`` was not set."""


class BackendError(LaCaleError):
    """A shared limiter or cache backend (such as Redis) failed or is unreachable."""


NOT_SENT: tuple[type[LaCaleError], ...] = (ConnectError, QuotaExceededError)
"""Errors that prove the request never reached the server: its slot spent no budget."""

STATUS_ERRORS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: BadRequestError,
    429: RateLimitError,
}
"""The one table from HTTP status to error class; 5xx not listed here map to ServerError."""


def error_for_status(status: int) -> type[APIError]:
    """Return the error class for an HTTP status.

    Args:
        status: A non-2xx HTTP status code.

    Returns:
        The class from :data:`STATUS_ERRORS`, else :class:`ServerError` for 5xx (Cloudflare's
        52x included), else :class:`APIError`.
    """
    cls = STATUS_ERRORS.get(status)
    if cls is not None:
        return cls
    return ServerError if 500 <= status <= 599 else APIError
