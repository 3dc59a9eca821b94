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

from .._secret import Secret, wire_secret

__all__ = ["clean", "json_text", "masked", "shown"]

# JSON fields that hold what the user gave (a query, a local path), in any output: a script
# matches its records back by them, and they are not network text.
_USER_FIELDS = frozenset({"query", "path", "saved_to"})

# Whole escape sequences go, not just their ESC: "[2J" left behind would still be noise.
# CSI (ESC [ or 8-bit U+009B) ... final byte; OSC/DCS/SOS/PM/APC (ESC ] P X ^ _ or their C1
# forms) up to BEL or ST, or to the end of an unterminated one; any other two-byte ESC x.
_SEQUENCES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f]).*?(?:\x07|\x1b\\|\x9c|$)"
    r"|\x1b[ -~]?",
    re.DOTALL,
)
# Unicode's format characters (category Cf, as of Unicode 14, CPython 3.11): bidirectional
# overrides and isolates reorder what follows them (a title that shows as something else);
# zero-width spaces and joiners, soft hyphens, tags and the rest are invisible. Printed, they
# make two titles look alike and split a key (shown intact on screen) so that masking no
# longer finds it. Listed as ranges: scanning every code point at import would cost 0.3 s.
_FORMAT_RANGES = (
    (0x00AD, 0x00AD), (0x0600, 0x0605), (0x061C, 0x061C), (0x06DD, 0x06DD), (0x070F, 0x070F),
    (0x0890, 0x0891), (0x08E2, 0x08E2), (0x180E, 0x180E), (0x200B, 0x200F), (0x202A, 0x202E),
    (0x2060, 0x2064), (0x2066, 0x206F), (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB), (0x110BD, 0x110BD),
    (0x110CD, 0x110CD), (0x13430, 0x13438), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001), (0xE0020, 0xE007F),
)  # fmt: skip
_FORMAT = "".join(chr(c) for low, high in _FORMAT_RANGES for c in range(low, high + 1))
_C0 = "".join(map(chr, range(0x20)))
_C1 = "".join(map(chr, range(0x7F, 0xA0)))  # DEL, then C1
_DROP = {ord(c): None for c in _C0 + _C1 + _FORMAT}
_ONE_LINE = {**_DROP, ord("\t"): " ", ord("\n"): " ", ord("\r"): None}
_MULTI_LINE = {**_DROP, ord("\t"): "\t", ord("\n"): "\n"}
_JSON_ESCAPES = re.compile(f"[{re.escape(_C1 + _FORMAT)}]")


def clean(text: str, *, multiline: bool = False) -> str:
    """Return ``text`` without control characters or terminal escape sequences.

    Args:
        text: Text that came from the network (or from a file someone else wrote).
        multiline: Keep newlines and tabs; otherwise they become spaces, for one-line output
            (table cells, error lines).

    Returns:
        The printable text: C0 and C1 controls, DEL, ESC sequences (CSI, OSC, DCS...),
        and Unicode's format characters (bidirectional overrides, zero-width ones) removed.
    """
    if text.isprintable():
        return text
    return _SEQUENCES.sub("", text).translate(_MULTI_LINE if multiline else _ONE_LINE)


def shown(
    text: str, secrets: tuple[str, ...] = (), *, multiline: bool = False, cut_tail: bool = True
) -> str:
    """Return network text as it may be printed: :func:`clean`, then each secret masked.

    Masked after cleaning, so a key split by a stripped control character is still found.

    Args:
        text: Text that came from the network.
        secrets: Values never to print (the API key); empty ones are ignored.
        multiline: As for :func:`clean`.
        cut_tail: As for :func:`masked`: False for a data field (a cell, a label).

    Returns:
        The printable text with each secret replaced by ``***``.
    """
    text = clean(text, multiline=multiline)
    return masked(text, secrets, cut_tail=cut_tail) if secrets else text


def _masked_values(value: object, secrets: tuple[str, ...]) -> object:
    if isinstance(value, str):
        return masked(value, secrets, cut_tail=False)
    if isinstance(value, dict):
        # Field names are the CLI's own schema, never server text: kept, so a key that
        # starts like "info_hash" cannot rename a field or merge two.
        return {k: v if k in _USER_FIELDS else _masked_values(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_masked_values(v, secrets) for v in value]
    return value


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def json_text(
    value: object,
    *,
    indent: int | None = None,
    secrets: tuple[str, ...] = (),
) -> str:
    """Return ``value`` as JSON that is safe on a terminal and decodes to the same value.

    ``json.dumps`` already escapes C0 controls; DEL, C1 controls and bidirectional overrides
    (legal raw in JSON) are written as ``\\uXXXX`` escapes too. Other non-ASCII text stays
    readable.

    Args:
        value: A JSON-ready value.
        indent: Pretty-print with this indent; compact (one line) when None.
        secrets: Values never to print (the API key): masked in every string value (as data:
            whole forms and eight-character starts, not four-character tails) before
            encoding, so the JSON stays valid and the key is in none of its spellings. The
            user's own fields (``query``, ``path``, ``saved_to``) are kept exact.

    Returns:
        The JSON text.
    """
    text = _dumps(value, indent)
    # One quick look at the whole text first: a big output without a trace of the key (the
    # usual case) is not walked string by string. Valid on the encoded text: json.dumps
    # escapes only '"', '\\' and controls, and the key's JSON-escaped forms are checked too.
    live = tuple(s for s in secrets if s and _secret(s).might_hold(text, cut_tail=False))
    if live:
        text = _dumps(_masked_values(value, live), indent)
    # Outside strings JSON is ASCII, so each of these characters sits inside a string.
    return _JSON_ESCAPES.sub(_escape, text)


def _dumps(value: object, indent: int | None) -> str:
    if indent is None:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return json.dumps(value, ensure_ascii=False, indent=indent)


def masked(text: str, secrets: tuple[str, ...], *, cut_tail: bool = True) -> str:
    """Return ``text`` with each secret (the API key) replaced by ``***``; empty ones ignored.

    In the spellings the SDK scrubs from server text too (URL-quoted, JSON- and HTML-escaped,
    cut short at the end): a link may hold the key quoted in its path.

    Args:
        text: Network text.
        secrets: Values never to print.
        cut_tail: Also remove a tail that spells the key's first four characters or more:
            right for a message cut at a length limit (an error line, a log); False for a
            data value (a hash, a title, a name), which it would damage (see
            ``Secret.scrub``).
    """
    for secret in secrets:
        if secret:
            text = _secret(secret).scrub(text, cut_tail=cut_tail)
    return text


@functools.lru_cache(maxsize=8)
def _secret(value: str) -> Secret:
    return wire_secret(value)
