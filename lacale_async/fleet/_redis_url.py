"""Redis URLs shown to people: the password (in the user part or the query) redacted."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["redact_redis_url", "redis_url_is_malformed", "url_start"]

# What a scheme can be followed by before the user part; nothing past it is ever shown.
_START = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:/{0,2}")

# Query keys redis-py's parse_url hands to the connection as secrets: the AUTH password, and
# (any unknown key becomes a keyword) SSLConnection's private-key passphrase.
_SECRET_KEYS = frozenset({"password", "ssl_password"})


def redis_url_is_malformed(url: str) -> bool:
    """Tell whether ``url`` has an ``@`` beyond its network location, or does not split at all.

    ``redis://:pa#ss@host`` splits as the network location ``:pa`` and the fragment
    ``ss@host``: an unencoded ``#``, ``?`` or ``/`` in a password moves part of it, and the
    ``@``, out of the user part, where neither a redaction nor redis-py expects it.

    Args:
        url: Any string given as a Redis URL.

    Returns:
        True when the user part cannot be trusted to hold the whole password.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return True
    _, sep, rest = url.partition("://")
    return bool(sep) and rest.rfind("@") >= len(parts.netloc)


def redact_redis_url(url: str) -> str:
    """Return a Redis URL with its password (in the user part or the query) replaced by ``***``.

    Args:
        url: ``redis://user:password@host:6379/0``, ``rediss://...``, ``unix://...``.

    Returns:
        The URL, safe to log or to put in an exception message. A user part without a colon
        is redacted whole: ``redis://secret@host`` would otherwise show a bare password. In a
        malformed URL (see :func:`redis_url_is_malformed`), everything between ``://`` and the
        last ``@`` is redacted. One with an ``@`` but no ``://`` shows only its scheme.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable Redis URL>"
    scheme, sep, rest = url.partition("://")
    if not sep and "@" in url:
        # No network location to redact ("redis:/:password@host"): whatever follows the
        # scheme may be the password, so none of it is shown.
        return f"{url_start(url)}***"
    if sep and rest.rfind("@") >= len(parts.netloc):
        # Cut at the last "@": whatever precedes it may be a piece of the password.
        after = rest.rpartition("@")[2]
        shown = redact_redis_url(f"{scheme}://{after}")
        return f"{scheme}://***@{shown.partition('://')[2]}"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}:***@{host}" if colon else f"***@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, "***" if k.lower() in _SECRET_KEYS else v) for k, v in pairs], safe="*"
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def url_start(url: str) -> str:
    """Return the scheme part of a URL that is not a Redis URL, safe to show whatever follows.

    ``redis:/:password@host`` has no network location for :func:`redact_redis_url` to redact:
    only its ``redis:/`` is shown.

    Args:
        url: Any string given as a Redis URL.

    Returns:
        The scheme with its colon and slashes, or ``""`` when there is none.
    """
    found = _START.match(url)
    return found.group() if found else ""
