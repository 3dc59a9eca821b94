"""Checks on the sandbox's settings and arguments, built on the SDK's own checks.

Settings (:class:`SandboxConfig`, :class:`RateLimit`, :class:`Fault`, the server's address)
raise ``ConfigurationError``, like the client's options; arguments of the sandbox's methods
(``add_key``, ``publish``, ``normalise``) raise ``ValidationError``, like the client's methods.
"""

from __future__ import annotations

from typing import cast

from .._errors import ConfigurationError, LaCaleError, ValidationError
from .._options import describe, is_count
from .._validation import check_text

__all__ = ["MAX_INT64", "check_optional_count", "check_printable", "check_required_text"]

MAX_INT64 = 2**63 - 1
"""The largest size, seeder count or byte count taken: no real one is larger, and every
message and header that carries the number stays valid."""


def check_required_text(value: object, name: str, error: type[LaCaleError]) -> str:
    """Return ``value`` when it is a string that can be encoded as UTF-8 (None is refused).

    Raises:
        error: Not a string (None included), or holding lone surrogates.
    """
    if value is None:
        raise error(f"{name} must be a string, not None")
    return cast(str, check_text(cast(str, value), name, error))


def check_printable(value: object, name: str) -> str:
    """Return ``value`` when it can go in a response header: printable text, no line break.

    aiohttp refuses the others only when it answers, so a bad fault failed its request late,
    with a 500, instead of where it was built.

    Raises:
        ConfigurationError: Not a string, or holding a control character or a lone surrogate.
    """
    text = check_required_text(value, name, ConfigurationError)
    if not text.isprintable():
        raise ConfigurationError(
            f"{name} must be printable text (no line break), not {describe(text)}"
        )
    return text


def check_optional_count(
    value: object,
    name: str,
    *,
    least: int = 0,
    most: int | None = None,
    error: type[LaCaleError] = ValidationError,
) -> int | None:
    """Return ``value`` when it is None or an int from ``least`` to ``most`` (not a bool).

    Raises:
        error: Anything else.
    """
    if value is None:
        return None
    if not (is_count(value, least) and (most is None or value <= most)):
        bounds = f">= {least}" if most is None else f"from {least} to {most:_}"
        raise error(f"{name} must be None or an int {bounds}, not {describe(value)}")
    return value
