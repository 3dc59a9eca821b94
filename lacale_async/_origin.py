"""Where the client talks and with which key: the base URL and the API key, checked once.

A base URL gets one canonical spelling per origin (every spelling of one tracker shares one
key budget), plain http only to this machine unless asked, and no message ever quotes the key.
"""

from __future__ import annotations

import ipaddress
import re

from yarl import URL

from ._errors import ConfigurationError, hide_credentials
from ._options import check_bool, describe
from ._validation import split_url

__all__ = [
    "MAX_BASE_URL_LENGTH",
    "MAX_KEY_LENGTH",
    "MIN_KEY_LENGTH",
    "check_api_key",
    "check_base_url",
    "is_loopback_host",
]

MAX_BASE_URL_LENGTH = 2048
# Header values cannot hold control characters; a key with one would also be a header-injection
# vector, so refuse it outright rather than let aiohttp fail with a message that quotes it.
_KEY_OK = re.compile(r"[\x21-\x7e]+")
# Tracker keys and passkeys are 32 to 64 characters; the bound leaves room for any other form.
MAX_KEY_LENGTH = 512
# Shorter keys cannot be told from ordinary text: scrubbing a one-letter key from every message
# would garble each word holding that letter. Eight matches the scrubber's shortest cut piece.
MIN_KEY_LENGTH = 8
# One DNS label (RFC 1123, plus "_" which internal names use); 253 characters for a whole name.
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?", re.IGNORECASE)
_MAX_HOST_LENGTH = 253


def check_api_key(key: object) -> str:
    """Return the API key when it can travel in a header or a query string.

    The message never quotes the key.

    Raises:
        ConfigurationError: Empty, not a string, containing spaces or control characters,
            shorter than ``MIN_KEY_LENGTH`` or longer than ``MAX_KEY_LENGTH``.
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
    if len(key) < MIN_KEY_LENGTH:
        raise ConfigurationError(
            f"the API key is {len(key)} characters long, shorter than any tracker key "
            f"({MIN_KEY_LENGTH} at least; La Cale's are 32 or more); check how it was pasted"
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
    parts = split_url(base_url)
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
