"""Checks on user input, run before any request so the tracker never sees a doomed one.

Limits come from the API documentation: ``q`` at most 200 characters, ``cat`` and ``tmdbId`` at
most 64 (TMDB ids are ASCII digits), ``tmdbType`` MOVIE or TV, an https cover URL, and hex
info hashes. Whatever cannot be sent as given (lone surrogates, a NUL) is refused, never
silently changed.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from urllib.parse import SplitResult, urlsplit

from yarl import URL

from ._errors import ConfigurationError, LaCaleError, ValidationError, hide_credentials
from ._options import check_bool, describe

__all__ = [
    "MAX_CATEGORY_LENGTH",
    "MAX_QUERY_LENGTH",
    "MAX_TMDB_ID_LENGTH",
    "check_api_key",
    "check_base_url",
    "check_categories",
    "check_cover_url",
    "check_info_hash",
    "check_query",
    "check_tags",
    "check_text",
    "check_title",
    "check_tmdb_id",
    "check_tmdb_type",
    "is_info_hash",
    "is_loopback_host",
    "is_utf8",
]

MAX_QUERY_LENGTH = 200
MAX_CATEGORY_LENGTH = 64
MAX_TMDB_ID_LENGTH = 64
MAX_COVER_URL_LENGTH = 2048
MAX_BASE_URL_LENGTH = 2048

_TMDB_INT_BOUND = 10**MAX_TMDB_ID_LENGTH
# ASCII only: str.isdigit() also accepts "²" and Arabic-Indic digits, which TMDB ids never are.
_DIGITS = re.compile(r"[0-9]+")

# A v1 info hash (SHA-1, 40 hex) or a v2 one (SHA-256, 64 hex), any case.
_HEX_HASH = re.compile(r"[0-9a-fA-F]{40}(?:[0-9a-fA-F]{24})?")
# Header values cannot hold control characters; a key with one would also be a header-injection
# vector, so refuse it outright rather than let aiohttp fail with a message that quotes it.
_KEY_OK = re.compile(r"[\x21-\x7e]+")
# Tracker keys and passkeys are 32 to 64 characters; the bound leaves room for any other form.
MAX_KEY_LENGTH = 512
# Slugs are short words joined by dashes; refusing separators keeps "films,series" (one
# string) from silently matching nothing, and keeps cache keys unambiguous.
_SLUG_OK = re.compile(r"[^\s,\x00-\x1f\x7f]+")
# One DNS label (RFC 1123, plus "_" which internal names use); 253 characters for a whole name.
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?", re.IGNORECASE)
_MAX_HOST_LENGTH = 253


def is_utf8(text: str) -> bool:
    """Tell whether ``text`` can be encoded as UTF-8 (it cannot hold lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_text(
    text: str | None, name: str, error: type[LaCaleError] = ValidationError
) -> str | None:
    """Return ``text`` when it is None or a string that can be sent.

    Args:
        text: The user's value.
        name: The argument or option, for the message.
        error: What to raise: ConfigurationError for an option rather than an argument.

    Raises:
        ValidationError: Not a string, or not encodable as UTF-8.
    """
    if text is None:
        return None
    if not isinstance(text, str):
        raise error(f"{name} must be a string, not {type(text).__name__}")
    if not is_utf8(text):
        raise error(f"{name} contains characters that cannot be sent (lone surrogates)")
    return text


def check_query(query: str | None) -> str | None:
    """Return the search text, or raise when the API would refuse it.

    Raises:
        ValidationError: Not a string, or longer than 200 characters.
    """
    if query is None:
        return None
    if not isinstance(query, str):
        raise ValidationError(f"query must be a string or None, not {type(query).__name__}")
    if not is_utf8(query):
        raise ValidationError("query contains characters that cannot be sent (lone surrogates)")
    if len(query) > MAX_QUERY_LENGTH:
        raise ValidationError(
            f"query is {len(query)} characters long; the API accepts at most {MAX_QUERY_LENGTH}"
        )
    return query


def check_categories(categories: str | Sequence[str] | None) -> tuple[str, ...]:
    """Return the category slugs as a tuple, whether one string or several were given.

    Raises:
        ValidationError: An empty slug, a non-string, or a slug over 64 characters.
    """
    if categories is None or categories == "":
        return ()
    if isinstance(categories, str):
        items: tuple[object, ...] = (categories,)
    elif isinstance(categories, (list, tuple, set, frozenset)):
        items = tuple(categories)
    else:
        raise ValidationError(
            f"categories must be a slug or a sequence of slugs, not {type(categories).__name__}"
        )
    for cat in items:
        if not isinstance(cat, str) or not cat.strip():
            raise ValidationError(f"category slugs must be non-empty strings, got {describe(cat)}")
        if not _SLUG_OK.fullmatch(cat) or not is_utf8(cat):
            raise ValidationError(
                f"{cat[:70]!r} is not a category slug (one slug per item, no spaces or commas: "
                "categories=['films', 'series'])"
            )
        if len(cat) > MAX_CATEGORY_LENGTH:
            raise ValidationError(
                f"category {cat[:20]!r}... is {len(cat)} characters long; "
                f"the API accepts at most {MAX_CATEGORY_LENGTH}"
            )
    return items  # type: ignore[return-value]  # every item was checked to be a str


def check_tags(tags: Sequence[str] | None) -> tuple[str, ...]:
    """Return the tag ids or slugs as a tuple.

    Raises:
        ValidationError: A single string instead of a sequence, or an empty/non-string tag.
    """
    if tags is None:
        return ()
    if isinstance(tags, str):
        raise ValidationError(
            f"tags must be a sequence of ids or slugs, not the string {describe(tags)}"
        )
    if not isinstance(tags, (list, tuple, set, frozenset)):
        raise ValidationError(f"tags must be a sequence of ids or slugs, not {type(tags).__name__}")
    items = tuple(tags)
    for tag in items:
        if not isinstance(tag, str) or not tag.strip() or not is_utf8(tag):
            raise ValidationError(f"tags must be non-empty text strings, got {describe(tag)}")
    return items


def check_tmdb_id(tmdb_id: int | str | None) -> str | None:
    """Return the TMDB id as the string the API expects: ASCII digits, at most 64 of them.

    TMDB ids are positive integers; anything else ("abc", "12a", a lone surrogate) used to reach
    the tracker and match nothing, or lose characters on the way.

    Raises:
        ValidationError: A bool or another type, a negative or too large int, or a string that
            is empty or not made of ASCII digits.
    """
    if tmdb_id is None:
        return None
    if isinstance(tmdb_id, int) and not isinstance(tmdb_id, bool):
        # Bounded before str(): str(10**5000) raises ValueError (Python's int digit limit).
        if not 0 <= tmdb_id < _TMDB_INT_BOUND:
            raise ValidationError(
                "tmdb_id must be a non-negative integer of at most "
                f"{MAX_TMDB_ID_LENGTH} digits (TMDB ids are digits)"
            )
        return str(int(tmdb_id))  # int(): an IntEnum's str() is its name
    if not isinstance(tmdb_id, str):
        raise ValidationError(f"tmdb_id must be an int or a string, not {type(tmdb_id).__name__}")
    text = tmdb_id.strip()
    if not text:
        raise ValidationError("tmdb_id must not be empty")
    if len(text) > MAX_TMDB_ID_LENGTH:
        raise ValidationError(
            f"tmdb_id is {len(text)} characters long; the API accepts at most {MAX_TMDB_ID_LENGTH}"
        )
    if not _DIGITS.fullmatch(text):
        raise ValidationError(f"tmdb_id must be digits (a TMDB id such as 603), got {text!r}")
    return text


def check_tmdb_type(tmdb_type: str | None) -> str | None:
    """Return ``MOVIE``, ``TV`` or None.

    Raises:
        ValidationError: Any other value.
    """
    if tmdb_type is None or tmdb_type in ("MOVIE", "TV"):
        return tmdb_type
    raise ValidationError(f"tmdb_type must be 'MOVIE' or 'TV', not {describe(tmdb_type)}")


def check_cover_url(url: str | None) -> str | None:
    """Return the cover URL when it is an absolute https URL that can be sent as given.

    Raises:
        ValidationError: Not a string, not https, no host, unparseable, over 2048 characters,
            or holding spaces, control characters or lone surrogates.
    """
    if url is None:
        return None
    if not isinstance(url, str):
        raise ValidationError(f"cover_url must be a string, not {type(url).__name__}")
    parts = _split_url(url) if len(url) <= MAX_COVER_URL_LENGTH else None
    if parts is None or parts.scheme != "https" or not parts.hostname:
        raise ValidationError(
            f"cover_url must be a public https URL of at most {MAX_COVER_URL_LENGTH} characters, "
            f"without spaces or control characters; got {describe(url)}"
        )
    return url


def _split_url(url: str) -> SplitResult | None:
    """Split ``url``, or return None when it cannot travel as given.

    None for spaces, control characters or lone surrogates (``isprintable`` is False for the
    last two), and for what ``urlsplit`` refuses: ``[::1`` or a port out of range.
    """
    if not url.isprintable() or any(c.isspace() for c in url):
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # raises ValueError for a port out of range
    except ValueError:
        return None
    return parts


def check_title(title: str) -> str:
    """Return the upload title, stripped.

    Raises:
        ValidationError: Not a string, or empty once stripped.
    """
    if not isinstance(title, str) or not title.strip():
        raise ValidationError("title must be a non-empty string")
    if not is_utf8(title):
        raise ValidationError("title contains characters that cannot be sent (lone surrogates)")
    return title.strip()


def is_info_hash(value: object) -> bool:
    """Tell whether ``value`` is a v1 (40 hex) or v2 (64 hex) info hash, in any case."""
    return isinstance(value, str) and _HEX_HASH.fullmatch(value) is not None


def check_info_hash(info_hash: str) -> str:
    """Return the info hash in lowercase.

    Raises:
        ValidationError: Not 40 (v1) or 64 (v2) hexadecimal characters.
    """
    if not is_info_hash(info_hash):
        shown = info_hash if isinstance(info_hash, str) and len(info_hash) <= 80 else "<value>"
        raise ValidationError(
            f"info hash must be 40 (v1) or 64 (v2) hexadecimal characters, got {shown!r}"
        )
    # str.lower, not the argument's own: a str subclass could send a path other than the one
    # the pattern checked.
    return str.lower(info_hash)


def check_api_key(key: object) -> str:
    """Return the API key when it can travel in a header or a query string.

    The message never quotes the key.

    Raises:
        ConfigurationError: Empty, not a string, containing spaces or control characters, or
            longer than ``MAX_KEY_LENGTH``.
    """
    if not isinstance(key, str) or not key:
        raise ConfigurationError(
            "no API key: pass api_key=... or set the LACALE_API_KEY environment variable"
        )
    if not _KEY_OK.fullmatch(key):
        raise ConfigurationError(
            "the API key contains spaces or control characters; check how it was pasted"
        )
    if len(key) > MAX_KEY_LENGTH:
        # A whole file pasted as the key: servers refuse such a header and echo its start.
        raise ConfigurationError(
            f"the API key is {len(key):,} characters long, more than any tracker key "
            f"({MAX_KEY_LENGTH} at most); check how it was pasted"
        )
    return key


def is_loopback_host(host: str | None) -> bool:
    """Tell whether ``host`` names this machine (localhost, 127.0.0.0/8, ::1)."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _parse_yarl(url: str) -> URL | None:
    # The transport builds its URLs with yarl, which refuses some URLs urlsplit takes.
    try:
        return URL(url)
    except ValueError:
        return None


def _canonical_origin(url: URL) -> URL:
    """Return one spelling per origin: ``HTTPS://LA-CALE.SPACE.:443`` is ``https://la-cale.space``.

    The key budget and the limiters are shared by the base URL (see ``derive_scope``): each
    spelling of one tracker once got a budget of its own. yarl lowercases the scheme and the
    host, IDNA-encodes it and drops a default port; the trailing dot of a fully qualified
    name is dropped here.
    """
    origin = url.origin()
    host = origin.host or ""
    return origin.with_host(host[:-1]) if host.endswith(".") else origin


def _is_host_name(host: str) -> bool:
    """Tell whether a resolver would take ``host``: an IP literal, or a DNS name once IDNA-encoded.

    The IDNA codec is the one asyncio's resolver applies, so what passes here connects (or
    fails with a ConnectError) instead of raising UnicodeError at the first request.
    """
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return True
    try:
        name = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = name[:-1].split(".") if name.endswith(".") else name.split(".")
    return len(name) <= _MAX_HOST_LENGTH and all(_LABEL.fullmatch(label) for label in labels)


_NOT_HOST = re.compile(r"[^\w.:\[\]-]")


def check_base_url(base_url: str, *, allow_insecure_http: bool) -> str:
    """Return the base URL in its one canonical spelling, refusing plain http to a remote host.

    Canonical: scheme and host lowercased, host IDNA-encoded without a trailing dot, no
    default port, no trailing slash; every spelling of one origin shares one key budget.

    Raises:
        ConfigurationError: Not http(s), over 2048 characters, no host or one that no resolver
            would take (``...``, a label over 63 characters), a query or credentials in it, or
            http to a non-loopback host without ``allow_insecure_http`` (a real bool).
    """
    check_bool(allow_insecure_http, "allow_insecure_http")
    if not isinstance(base_url, str):
        raise ConfigurationError(f"base_url must be a string, not {type(base_url).__name__}")
    if len(base_url) > MAX_BASE_URL_LENGTH:
        raise ConfigurationError(
            f"base_url is {len(base_url)} characters long; at most {MAX_BASE_URL_LENGTH} accepted"
        )
    parts = _split_url(base_url)
    url = _parse_yarl(base_url) if parts is not None else None
    shown = describe(hide_credentials(base_url))  # a mistyped URL may still hold the key
    if parts is None or url is None:
        raise ConfigurationError(f"base_url is not a valid URL: {shown}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"base_url must be an http(s) URL with a host, got {shown}")
    if not _is_host_name(parts.hostname):
        # Cut at the first character no host has: "host&apikey=KEY" (a "?" forgotten).
        host, cut = parts.hostname, _NOT_HOST.search(parts.hostname)
        shown_host = describe(host if cut is None else host[: cut.start()] + "***")
        raise ConfigurationError(
            f"base_url's host {shown_host} is not an IP address or a DNS name "
            "(labels of 1 to 63 letters, digits or dashes, 253 characters in all)"
        )
    # "?" and "#" even when empty: a base URL never carries them, so refuse the marker too.
    if "?" in base_url or "#" in base_url or parts.username or parts.password:
        raise ConfigurationError(
            "base_url must not carry a query, fragment or credentials",
            option="api_key",
            hint="pass the key as api_key",
        )
    origin = _canonical_origin(url)
    if origin.scheme == "http" and not allow_insecure_http and not is_loopback_host(origin.host):
        raise ConfigurationError(
            f"refusing plain http to {origin.host}: the API key would travel in clear text",
            option="allow_insecure_http",
            hint="use https, or pass allow_insecure_http=True if you really mean it",
        )
    # The path prefix is kept as given (paths are case-sensitive), without a trailing slash.
    return str(origin) + url.raw_path.rstrip("/")
