"""Names and Worded: a text naming settings, written in Python's names or a front end's."""

from __future__ import annotations

import pickle

import pytest

from lacale_async._errors import LaCaleError
from lacale_async._wording import PYTHON, Names, Worded


class Dashed(Names):
    """A front end's names: options only, so ``advise`` is left to the base class."""

    def name(self, setting: str) -> str:
        return "--" + setting.replace("_", "-")

    def assign(self, setting: str, value: float | None) -> str:
        return f"{self.name(setting)} {'off' if value is None else value}"


def _lower(names: Names, setting: str, value: float) -> str:
    # Module level: pickle finds a Worded's function by name.
    return f"lower {names.name(setting)}, or {names.advise(setting, value)}"


@pytest.mark.parametrize("setting", ["key_rate", "budget_share", "not_a_setting"])
def test_python_names_a_setting_by_its_parameter(setting: str) -> None:
    assert PYTHON.name(setting) == setting


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("quota_store", "quota_store (or LACALE_QUOTA_STORE)"),
        ("key_rate", "key_rate (or LACALE_KEY_RATE)"),
        # The SDK reads no variable for the others: nothing is added.
        ("budget_share", "budget_share"),
        ("max_quota_wait", "max_quota_wait"),
    ],
)
def test_called_adds_the_variable_that_also_sets_it(setting: str, expected: str) -> None:
    assert PYTHON.called(setting) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.5, "budget_share=0.5"),
        (None, "budget_share=None"),
        (1.0, "budget_share=1"),  # no trailing ".0": written as a caller would type it
        (0.0, "budget_share=0"),
        (1e-7, "budget_share=1e-07"),
        (1234567.0, "budget_share=1234567"),  # not 6 significant digits: "1.23457e+06"
        (0.123456789, "budget_share=0.123456789"),
    ],
)
def test_assign_writes_the_python_keyword_argument(value: float | None, expected: str) -> None:
    assert PYTHON.assign("budget_share", value) == expected


def test_advise_passes_the_assignment() -> None:
    assert PYTHON.advise("quota_store", None) == "pass quota_store=None"
    assert PYTHON.advise("budget_share", 0.25) == "pass budget_share=0.25"


def test_advise_follows_a_front_ends_own_assignment() -> None:
    # A front end overriding only assign gets its advice in its own words.
    assert Dashed().advise("budget_share", 0.5) == "pass --budget-share 0.5"
    assert Dashed().advise("key_rate", None) == "pass --key-rate off"


def test_a_worded_text_is_in_python_names_by_default() -> None:
    wording = Worded(_lower, "key_rate", 0.5)
    expected = "lower key_rate, or pass key_rate=0.5"
    assert wording.text() == expected
    assert wording.text(PYTHON) == expected
    assert str(wording) == expected


def test_another_names_words_the_same_text_from_its_structure() -> None:
    wording = Worded(_lower, "budget_share", 0.25)
    assert wording.text(Dashed()) == "lower --budget-share, or pass --budget-share 0.25"
    assert str(wording) == "lower budget_share, or pass budget_share=0.25"  # unchanged


def test_a_worded_text_is_written_on_demand_each_time() -> None:
    calls: list[Names] = []

    def write(names: Names) -> str:
        calls.append(names)
        return f"#{len(calls)} {names.name('key_rate')}"

    wording = Worded(write)
    assert calls == []  # building it writes nothing
    dashed = Dashed()
    assert wording.text(dashed) == "#1 --key-rate"
    assert str(wording) == "#2 key_rate"
    assert calls == [dashed, PYTHON]


def test_repr_shows_the_python_text() -> None:
    assert repr(Worded(_lower, "key_rate", 2.0)) == "Worded('lower key_rate, or pass key_rate=2')"


def test_a_worded_of_a_module_level_function_survives_pickling() -> None:
    wording = pickle.loads(pickle.dumps(Worded(_lower, "key_rate", 0.5)))
    assert isinstance(wording, Worded)
    assert wording.text(Dashed()) == "lower --key-rate, or pass --key-rate 0.5"


def test_an_error_holding_a_worded_stays_picklable_and_wordable() -> None:
    wording = Worded(_lower, "budget_share", 0.5)
    error = LaCaleError(str(wording), wording=wording)
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == "lower budget_share, or pass budget_share=0.5"
    assert copy.wording is not None
    assert copy.wording.text(Dashed()) == "lower --budget-share, or pass --budget-share 0.5"
