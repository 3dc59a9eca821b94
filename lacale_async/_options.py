"""Checks on option values: durations, counts, booleans and protocol objects.

The predicates :func:`is_count` and :func:`is_finite` are the one way the SDK tells a count or a
number of seconds from what merely looks like one (``True`` is an int, ``nan`` a float).

Also the one way to quote a user's value in a message (:func:`describe`), which never raises
and never copies a huge input into an error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import TypeGuard

from ._errors import ConfigurationError, LaCaleError

__all__ = [
    "YEAR",
    "check_bool",
    "check_duration",
    "check_implements",
    "check_number",
    "check_options",
    "describe",
    "is_count",
    "is_finite",
]

YEAR = 365 * 86_400.0
"""The longest duration an option takes: far beyond any sensible value, and small enough that
adding it to a Unix time stays a valid datetime (``(1, 1e15)`` made the budget's dates raise)."""


def is_count(value: object, least: int = 1) -> TypeGuard[int]:
    """Tell whether ``value`` is an int of at least ``least`` (a bool is not a count)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def is_finite(value: object) -> TypeGuard[float]:
    """Tell whether ``value`` is a finite int or float (not a bool, not inf or nan).

    Every int is finite: ``math.isfinite(10**5000)`` would raise OverflowError converting it.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return isinstance(value, int) or math.isfinite(value)


def check_number(
    value: object,
    name: str,
    low: float,
    high: float,
    *,
    open_low: bool = False,
    unit: str = "",
    error: type[LaCaleError] = ConfigurationError,
) -> float:
    """Return ``value`` as a float when it is a number from ``low`` to ``high``.

    Compared before any conversion: an int of thousands of digits is refused, not an
    OverflowError; nan compares false with everything, so it is refused too.

    Args:
        value: The user's value.
        name: The option, for the message.
        low: The least value (excluded when ``open_low``).
        high: The greatest value (included).
        open_low: Refuse ``low`` itself ("> 0" rather than ">= 0").
        unit: Said after "number" in the message (" of seconds").
        error: What to raise: ValidationError for a method's argument rather than an option.

    Raises:
        ConfigurationError: Not an int or a float (a bool is not a number), or out of bounds.
    """
    if not isinstance(value, bool) and isinstance(value, (int, float)):
        low_ok = value > low if open_low else value >= low
        if low_ok and value <= high:
            return float(value)
    bound = f"> {low:g}" if open_low else f">= {low:g}"
    top = f"{high:.15g}" + (" (a year)" if high == YEAR else "")
    raise error(
        f"{name} must be a finite number{unit}, {bound} and <= {top}, not {describe(value)}"
    )


def check_duration(value: object, name: str) -> float:
    """Return ``value`` as seconds when it is a number > 0 and at most a :data:`YEAR`.

    Raises:
        ConfigurationError: Anything else (see :func:`check_number`).
    """
    return check_number(value, name, 0.0, YEAR, open_low=True, unit=" of seconds")


def check_options(
    *,
    auth: object,
    seconds: Mapping[str, tuple[object, float | None, float]],
    counts: Mapping[str, tuple[object, int]],
    user_agent: object,
    objects: Mapping[str, tuple[object, type]] = MappingProxyType({}),
) -> None:
    """Check the client's constructor options, so a typo fails at once, not at a request.

    Args:
        auth: Must be ``header``, ``query`` or ``passkey``.
        seconds: name -> (value, minimum, maximum); None as minimum means "strictly above 0".
            Durations must be finite: ``timeout=inf`` made every request raise OverflowError.
        counts: name -> (value, minimum) for integer options.
        user_agent: None, or printable ASCII (it becomes a header).
        objects: name -> (object or None, protocol it must implement): a clock, a backend.

    Raises:
        ConfigurationError: The first option that is wrong, named.
    """
    if auth not in ("header", "query", "passkey"):
        raise ConfigurationError(
            f"auth must be 'header', 'query' or 'passkey', not {describe(auth)}"
        )
    for name, (value, minimum, maximum) in seconds.items():
        _check_seconds(name, value, minimum, maximum)
    for name, (count, least) in counts.items():
        if not is_count(count, least):
            raise ConfigurationError(f"{name} must be an int >= {least}, not {describe(count)}")
    if user_agent is not None and not (
        isinstance(user_agent, str) and user_agent.isprintable() and user_agent.isascii()
    ):
        raise ConfigurationError("user_agent must be printable ASCII text (no line breaks)")
    for name, (obj, protocol) in objects.items():
        if obj is not None:
            check_implements(obj, protocol, name)


def _check_seconds(name: str, value: object, minimum: float | None, maximum: float) -> None:
    low = 0.0 if minimum is None else minimum
    check_number(value, name, low, maximum, open_low=minimum is None, unit=" of seconds")


def check_bool(value: object, name: str) -> bool:
    """Return ``value`` when it is a real bool.

    ``"no"``, ``"false"`` or ``0`` are refused rather than read: a truthy string once turned
    plain http on.

    Raises:
        ConfigurationError: Anything but True or False.
    """
    if value is not True and value is not False:
        raise ConfigurationError(f"{name} must be True or False, not {describe(value)}")
    return value


def check_implements(obj: object, protocol: type, name: str) -> None:
    """Check that ``obj`` has every method of ``protocol``, so a stand-in fails at construction.

    Raises:
        ConfigurationError: A class instead of an instance, or a method missing or not
            callable; the message names them.
    """
    if isinstance(obj, type):
        # A class has the methods too, unbound: clock=MonotonicClock would fail at first use.
        raise ConfigurationError(
            f"{name} must be an instance (such as {obj.__name__}()), not the class itself"
        )
    methods = [m for m, v in vars(protocol).items() if not m.startswith("_") and callable(v)]
    missing = [m for m in methods if not callable(getattr(obj, m, None))]
    if missing:
        raise ConfigurationError(
            f"{name} must implement {protocol.__name__} ({', '.join(methods)}); "
            f"{type(obj).__name__} lacks {', '.join(missing)}"
        )


def describe(value: object, limit: int = 80) -> str:
    """Return a short ``repr`` of user input for a message, whatever it is.

    Cut to ``limit`` characters; never raises (``repr(10**5000)`` raises ValueError).
    """
    try:
        text = repr(value)
    except Exception:  # any repr may fail; the type name is enough then
        if isinstance(value, int):  # over Python's int-str conversion limit
            return f"an int of {value.bit_length()} bits"
        return f"a {type(value).__name__} (its repr failed)"
    return text if len(text) <= limit else text[: limit - 3] + "..."
