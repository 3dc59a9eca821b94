"""``lacale download`` takes a whole info hash, or a unique prefix of one from the last search."""

from __future__ import annotations

from collections.abc import Sequence

from .._errors import ValidationError
from ._userdata import load_hashes

__all__ = ["MIN_PREFIX", "resolve_hash"]

MIN_PREFIX = 8
"""Shortest prefix accepted: 8 hex characters tell apart 4 billion hashes."""

_HEX = frozenset("0123456789abcdef")
_FULL = (40, 64)  # v1 (SHA-1) and v2 (SHA-256) info hashes


def _listed(hashes: Sequence[str]) -> str:
    return ", ".join(h[:16] + "…" for h in hashes[:3]) + (", …" if len(hashes) > 3 else "")


def resolve_hash(text: str, known: Sequence[str] | None = None) -> str:
    """Return the info hash ``text`` names: itself when whole, else the one it starts.

    Args:
        text: A 40- or 64-character info hash, or at least :data:`MIN_PREFIX` of its first
            characters (any case).
        known: The hashes a prefix is looked up in; the last search's when None.

    Returns:
        ``text`` unchanged when it is not a hex prefix (the SDK's check says what is wrong)
        or already whole; else the full hash.

    Raises:
        ValidationError: A prefix that is too short, matches no hash of the last search, or
            matches several.
    """
    prefix = text.strip().lower()
    if len(prefix) in _FULL or not prefix or not set(prefix) <= _HEX:
        return text
    if len(prefix) > max(_FULL):
        return text
    if len(prefix) < MIN_PREFIX:
        raise ValidationError(
            f"info hash {text!r} is too short: give all 40 characters, or at least "
            f"{MIN_PREFIX} of the first ones of a hash shown by 'lacale search'"
        )
    hashes = list(dict.fromkeys(h.lower() for h in (load_hashes() if known is None else known)))
    matches = [h for h in hashes if h.startswith(prefix)]
    if len(matches) == 1:
        return matches[0]
    if not hashes:
        raise ValidationError(
            f"no search remembered to look up {prefix!r} in: run 'lacale search' first, or "
            "give the whole 40-character info hash"
        )
    if not matches:
        raise ValidationError(
            f"no result of the last search starts with {prefix!r}: give the whole "
            "40-character info hash ('lacale search --json' shows it), or run the search again"
        )
    raise ValidationError(
        f"{prefix!r} starts {len(matches)} results of the last search ({_listed(matches)}): "
        "give more characters"
    )
