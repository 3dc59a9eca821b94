"""Text from the network, made safe for a terminal: one sanitiser for everything ``lacale`` prints.

A torrent title, a category name or a server's error message is chosen by someone else. Printed
as is, ``ESC[2J`` clears the user's screen, an OSC sequence retitles the window or writes the
clipboard, and a C1 ``CSI`` (U+009B) does the same on terminals that read 8-bit controls. Every
such string goes through :func:`clean` before it reaches a table, an error line, a note or a
progress line. JSON output is not stripped (it must stay exact): :func:`json_text` escapes the
same characters instead, so a decoder gets the original string back.

The server can also echo the user's API key back (in a title, a category, an error): what is
printed goes through :func:`shown` (cleaned, then the key masked) or :func:`json_text` with the
secrets, never through :func:`clean` alone once the text came from the network.
"""

from __future__ import annotations

import functools
import json
import re

from .._secret import Secret
from .._transport import wire_forms

__all__ = ["clean", "json_text", "masked", "shown"]

# Whole escape sequences go, not just their ESC: "[2J" left behind would still be noise.
# CSI (ESC [ or 8-bit U+009B) ... final byte; OSC/DCS/SOS/PM/APC (ESC ] P X ^ _ or their C1
# forms) up to BEL or ST, or to the end of an unterminated one; any other two-byte ESC x.
_SEQUENCES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f]).*?(?:\x07|\x1b\\|\x9c|$)"
    r"|\x1b[ -~]?",
    re.DOTALL,
)
# Bidirectional overrides and isolates reorder what follows them (a title that shows as
# something else); marks (U+200E/U+200F) are harmless and kept.
_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_C0 = "".join(map(chr, range(0x20)))
_C1 = "".join(map(chr, range(0x7F, 0xA0)))  # DEL, then C1
_DROP = {ord(c): None for c in _C0 + _C1 + _BIDI}
_ONE_LINE = {**_DROP, ord("\t"): " ", ord("\n"): " ", ord("\r"): None}
_MULTI_LINE = {**_DROP, ord("\t"): "\t", ord("\n"): "\n"}
_JSON_ESCAPES = re.compile(f"[{re.escape(_C1 + _BIDI)}]")


def clean(text: str, *, multiline: bool = False) -> str:
    """Return ``text`` without control characters or terminal escape sequences.

    Args:
        text: Text that came from the network (or from a file someone else wrote).
        multiline: Keep newlines and tabs; otherwise they become spaces, for one-line output
            (table cells, error lines).

    Returns:
        The printable text: C0 and C1 controls, DEL, ESC sequences (CSI, OSC, DCS...) and
        bidirectional overrides removed.
    """
    if text.isprintable():
        return text
    return _SEQUENCES.sub("", text).translate(_MULTI_LINE if multiline else _ONE_LINE)


def shown(text: str, secrets: tuple[str, ...] = (), *, multiline: bool = False) -> str:
    """Return network text as it may be printed: :func:`clean`, then each secret masked.

    Masked after cleaning, so a key split by a stripped control character is still found.

    Args:
        text: Text that came from the network.
        secrets: Values never to print (the API key); empty ones are ignored.
        multiline: As for :func:`clean`.

    Returns:
        The printable text with each secret replaced by ``***``.
    """
    text = clean(text, multiline=multiline)
    return masked(text, secrets) if secrets else text


def _masked_values(value: object, secrets: tuple[str, ...]) -> object:
    if isinstance(value, str):
        return masked(value, secrets)
    if isinstance(value, dict):
        return {_masked_values(k, secrets): _masked_values(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_masked_values(v, secrets) for v in value]
    return value


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def json_text(value: object, *, indent: int | None = None, secrets: tuple[str, ...] = ()) -> str:
    """Return ``value`` as JSON that is safe on a terminal and decodes to the same value.

    ``json.dumps`` already escapes C0 controls; DEL, C1 controls and bidirectional overrides
    (legal raw in JSON) are written as ``\\uXXXX`` escapes too. Other non-ASCII text stays
    readable.

    Args:
        value: A JSON-ready value.
        indent: Pretty-print with this indent; compact (one line) when None.
        secrets: Values never to print (the API key): masked in every string (key or value)
            before encoding, so the JSON stays valid and the key is in none of its spellings.

    Returns:
        The JSON text.
    """
    if any(secrets):
        value = _masked_values(value, secrets)
    if indent is None:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    else:
        text = json.dumps(value, ensure_ascii=False, indent=indent)
    # Outside strings JSON is ASCII, so each of these characters sits inside a string.
    return _JSON_ESCAPES.sub(_escape, text)


def masked(text: str, secrets: tuple[str, ...]) -> str:
    """Return ``text`` with each secret (the API key) replaced by ``***``; empty ones ignored.

    In the spellings the SDK scrubs from server text too (URL-quoted, JSON- and HTML-escaped,
    cut short at the end): a link may hold the key quoted in its path.
    """
    for secret in secrets:
        if secret:
            text = _secret(secret).scrub(text)
    return text


@functools.lru_cache(maxsize=8)
def _secret(value: str) -> Secret:
    return Secret(value, wire_forms(value))
