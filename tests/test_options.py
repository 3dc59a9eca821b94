"""The option predicates and checks (``_options``): safe on any number, huge ints included."""

from __future__ import annotations

import math

import pytest

import lacale_async as la
from lacale_async._options import YEAR, check_number, describe, is_finite

HUGE = 10**5000


def test_every_int_is_finite_and_no_number_raises() -> None:
    # math.isfinite(10**5000) raises OverflowError converting it to a float.
    assert is_finite(HUGE)
    assert is_finite(-HUGE)
    assert is_finite(1.5)
    assert not is_finite(math.inf)
    assert not is_finite(math.nan)
    assert not is_finite(True)
    assert not is_finite("1")


@pytest.mark.parametrize(
    "value", [pytest.param(HUGE, id="10**5000"), 1e15, math.inf, math.nan, -1, 0, True, "5"]
)
def test_check_number_refuses_out_of_bounds_with_the_name(value: object) -> None:
    with pytest.raises(la.ConfigurationError, match=r"^period must be a finite number") as info:
        check_number(value, "period", 0.0, YEAR, open_low=True)
    assert len(str(info.value)) < 200


def test_check_number_returns_a_float_within_bounds() -> None:
    assert check_number(YEAR, "period", 0.0, YEAR, open_low=True) == YEAR
    assert check_number(0, "share", 0.0, 1.0) == 0.0
    assert isinstance(check_number(3, "share", 0.0, 5.0), float)


def test_check_number_raises_the_error_class_asked_for() -> None:
    # A method's argument is a ValidationError, an option a ConfigurationError: one check.
    with pytest.raises(la.ValidationError, match=r"^delay must be a finite number"):
        check_number(-1, "delay", 0.0, YEAR, error=la.ValidationError)


def test_describe_names_a_huge_int_without_converting_it() -> None:
    assert describe(HUGE) == f"an int of {HUGE.bit_length()} bits"
    assert describe("x" * 500).endswith("...")
