"""Checks on user input, run before any request so the tracker never sees a doomed one.

Limits come from the API documentation: ``q`` at most 200 characters, ``cat`` and ``tmdbId`` at
most 64 (TMDB ids are ASCII digits), ``tmdbType`` MOVIE or TV, an https cover URL, and hex
info hashes. Whatever cannot be sent as given (lone surrogates, a NUL) is refused, never
silently changed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import SplitResult, urlsplit

from ._errors import LaCaleError, ValidationError
from ._options import describe

__all__ = [
    "MAX_CATEGORIES",
    "MAX_CATEGORY_LENGTH",
    "MAX_QUERY_LENGTH",
    "MAX_TMDB_ID_LENGTH",
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
    "is_utf8",
    "split_url",
]

MAX_QUERY_LENGTH = 200
MAX_CATEGORY_LENGTH = 64
# The live tracker has about 35 categories; each is one "&cat=" of the URL, which servers cap
# near 8 KB (aiohttp at 8190 bytes): more than this many is refused before it is sent.
MAX_CATEGORIES = 50
MAX_TMDB_ID_LENGTH = 64
MAX_COVER_URL_LENGTH = 2048

_TMDB_INT_BOUND = 10**MAX_TMDB_ID_LENGTH
# ASCII only: str.isdigit() also accepts "²" and Arabic-Indic digits, which TMDB ids never are.
_DIGITS = re.compile(r"[0-9]+")

# A v1 info hash (SHA-1, 40 hex) or a v2 one (SHA-256, 64 hex), any case.
_HEX_HASH = re.compile(r"[0-9a-fA-F]{40}(?:[0-9a-fA-F]{24})?")
# Slugs are short words joined by dashes; refusing separators keeps "films,series" (one
# string) from silently matching nothing, and keeps cache keys unambiguous.
_SLUG_OK = re.compile(r"[^\s,\x00-\x1f\x7f]+")


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
        ValidationError: An empty slug, a non-string, a slug over 64 characters, or more
            than 50 slugs.
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
    if len(items) > MAX_CATEGORIES:
        raise ValidationError(
            f"{len(items)} categories given; a search takes at most {MAX_CATEGORIES} "
            "(the URL would be too long for the server)"
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
    # A str subclass as plain text: the cache key's encoder (msgspec) refuses subclasses, and
    # str.__str__ ignores whatever __str__ a subclass defines.
    return tuple(cat if cat.__class__ is str else str.__str__(cat) for cat in items)


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
    parts = split_url(url) if len(url) <= MAX_COVER_URL_LENGTH else None
    if parts is None or parts.scheme != "https" or not parts.hostname:
        raise ValidationError(
            f"cover_url must be a public https URL of at most {MAX_COVER_URL_LENGTH} characters, "
            f"without spaces or control characters; got {describe(url)}"
        )
    return url


def split_url(url: str) -> SplitResult | None:
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
