"""The key-wide budget's public face: the snapshot structs, the wording of waits and windows,
``key_rate`` and ``quota_store`` resolved with their variables (``_quota``)."""

from __future__ import annotations

import math
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, get_args

import msgspec
import pytest

import lacale_async as la
from lacale_async._quota import (
    DEFAULT_KEY_RATE,
    OnQuota,
    Quota,
    QuotaWindow,
    describe_wait,
    describe_window,
    resolve_key_rate,
    resolve_quota_store,
    utc,
)

AT = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)


def no_auto() -> Path:
    raise AssertionError("auto() was called")


# -- the snapshot structs --------------------------------------------------------------------


def test_quota_next_free_at_is_none_unless_a_wait_is_left() -> None:
    assert Quota(remaining=3, at=AT).next_free_at is None
    assert Quota(remaining=0, at=AT, next_free_in=-1.0).next_free_at is None
    assert Quota(remaining=0, at=AT, next_free_in=90.5).next_free_at == AT + timedelta(seconds=90.5)


def test_a_quota_defaults_to_memory_with_no_windows_and_is_frozen() -> None:
    quota = Quota(remaining=None, at=AT)
    assert (quota.windows, quota.next_free_in, quota.paused_until, quota.store) == (
        (),
        0.0,
        None,
        "memory",
    )
    with pytest.raises(AttributeError):
        quota.remaining = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        Quota(None, AT)  # type: ignore[call-arg]  # keywords only: fields may be added


def test_a_window_encodes_to_the_fields_front_ends_print() -> None:
    window = QuotaWindow(calls=5, period=60.0, used=2, remaining=3, next_free_at=AT)
    assert msgspec.to_builtins(window) == {
        "calls": 5,
        "period": 60.0,
        "used": 2,
        "remaining": 3,
        "next_free_at": "2026-05-01T12:00:00Z",
    }


def test_utc_gives_an_aware_utc_datetime() -> None:
    assert utc(0) == datetime(1970, 1, 1, tzinfo=timezone.utc)
    moment = utc(1_777_636_800.25)
    assert moment.tzinfo is timezone.utc
    assert moment == AT + timedelta(seconds=0.25)


def test_on_quota_is_raise_or_wait() -> None:
    assert get_args(OnQuota) == ("raise", "wait")


# -- wording ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (-3.0, "0 s"),  # a deadline just passed is no wait, never a negative one
        (45, "45 s"),
        (89.4, "89 s"),
        (90, "2 min"),  # minutes round up: never promise less than the wait
        (61 * 60, "61 min"),
        (89 * 60, "89 min"),
        (89 * 60 + 1, "1 h 30 min"),
        (3 * 3600 + 5 * 60, "3 h 05 min"),
        (86_400, "24 h 00 min"),
        (math.nan, "an unknown time"),  # no caller passes one; a message never raises
        (math.inf, "an unknown time"),
    ],
)
def test_a_wait_is_told_in_seconds_minutes_or_hours(seconds: float, text: str) -> None:
    assert describe_wait(seconds) == text


@pytest.mark.parametrize(
    ("calls", "period", "text"),
    [
        (200, 86_400.0, "200 per 24 h"),
        (60, 60.0, "60 per 60 s"),
        (10, 3600, "10 per 1 h"),
        (5, 5400.0, "5 per 5400 s"),  # not a whole number of hours
        (1, 0.5, "1 per 0.5 s"),
    ],
)
def test_a_window_is_told_in_whole_hours_or_seconds(calls: int, period: float, text: str) -> None:
    assert describe_window(calls, period) == text


# -- key_rate --------------------------------------------------------------------------------


def test_the_default_key_rate_is_valid_and_is_used_when_no_variable_is_set() -> None:
    assert "LACALE_KEY_RATE" not in os.environ  # conftest removes the developer's
    assert resolve_key_rate(DEFAULT_KEY_RATE, is_default=True) == [(60, 60.0), (200, 86_400.0)]
    assert resolve_key_rate((5, 10), is_default=False) == [(5, 10.0)]
    assert resolve_key_rate(None, is_default=False) is None


def test_the_variable_replaces_only_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LACALE_KEY_RATE", " 10/60 ")
    assert resolve_key_rate(DEFAULT_KEY_RATE, is_default=True) == [(10, 60.0)]
    assert resolve_key_rate((1, 1.0), is_default=False) == [(1, 1.0)]
    assert resolve_key_rate(None, is_default=False) is None


@pytest.mark.parametrize("value", ["", "  ", "none", "OFF", "0"])
def test_the_variable_can_turn_the_budget_off(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("LACALE_KEY_RATE", value)
    assert resolve_key_rate(DEFAULT_KEY_RATE, is_default=True) is None


@pytest.mark.parametrize("value", ["60", "60/", "60/60,", "60:60", "1.5/60", "0/60", "5/0"])
def test_a_bad_variable_is_refused_quoting_it_whole(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("LACALE_KEY_RATE", value)
    with pytest.raises(la.ConfigurationError) as info:
        resolve_key_rate(DEFAULT_KEY_RATE, is_default=True)
    message = str(info.value)
    assert message.startswith("LACALE_KEY_RATE must look like '60/60,200/86400'")
    assert message.endswith(f"or 'off', got {value!r}")
    # One message: the inner parse_rates error is not shown chained under it.
    assert info.value.__suppress_context__


@pytest.mark.parametrize("bad", ["60/60", (0, 60.0), [(1, 1.0), (1, -1.0)]])
def test_a_bad_key_rate_argument_is_refused_naming_key_rate(bad: Any) -> None:
    with pytest.raises(la.ConfigurationError, match="key_rate"):
        resolve_key_rate(bad, is_default=False)


# -- quota_store -----------------------------------------------------------------------------


def test_a_given_store_path_is_used_as_a_path(tmp_path: Path) -> None:
    assert resolve_quota_store(None, auto=no_auto) is None
    assert resolve_quota_store(str(tmp_path / "q.db"), auto=no_auto) == tmp_path / "q.db"
    assert resolve_quota_store(tmp_path / "q.db", auto=no_auto) == tmp_path / "q.db"
    assert resolve_quota_store("~/q.db", auto=no_auto) == Path.home() / "q.db"


def test_auto_takes_the_variable_first_and_calls_auto_only_without_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LACALE_QUOTA_STORE", str(tmp_path / "env.db"))
    assert resolve_quota_store("auto", auto=no_auto) == tmp_path / "env.db"
    for unset in ("", "auto"):
        monkeypatch.setenv("LACALE_QUOTA_STORE", unset)
        assert resolve_quota_store("auto", auto=lambda: tmp_path / "auto.db") == (
            tmp_path / "auto.db"
        )
    monkeypatch.delenv("LACALE_QUOTA_STORE")
    assert resolve_quota_store("auto", auto=lambda: tmp_path / "auto.db") == tmp_path / "auto.db"


@pytest.mark.parametrize("value", ["none", "Memory", "OFF"])
def test_the_variable_can_keep_the_budget_in_memory(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("LACALE_QUOTA_STORE", value)
    assert resolve_quota_store("auto", auto=no_auto) is None


@pytest.mark.parametrize("value", ["memory", "Memory", "none", "OFF"])
def test_the_argument_takes_the_same_words_for_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    # Regression: quota_store="memory" made a file named "memory" in the working folder.
    monkeypatch.chdir(tmp_path)
    assert resolve_quota_store(value, auto=no_auto) is None
    assert resolve_quota_store(f"./{value}", auto=no_auto) == Path(value)  # a path still is one


@pytest.mark.parametrize(
    ("cache_dir", "named"), [(None, "quota_store"), ("/somewhere", "LACALE_CACHE_DIR")]
)
def test_a_bad_auto_path_names_where_it_came_from(
    monkeypatch: pytest.MonkeyPatch, cache_dir: str | None, named: str
) -> None:
    monkeypatch.delenv("LACALE_QUOTA_STORE")
    if cache_dir is None:
        monkeypatch.delenv("LACALE_CACHE_DIR")
    else:
        monkeypatch.setenv("LACALE_CACHE_DIR", cache_dir)
    with pytest.raises(la.ConfigurationError, match=f"^{named} path contains a NUL character$"):
        resolve_quota_store("auto", auto=lambda: Path("bad\x00/quota.sqlite3"))


@pytest.mark.parametrize(("bad", "shown"), [(42, "42"), ("", "''"), (b"q.db", "b'q.db'")])
def test_what_is_not_a_store_path_is_refused(bad: Any, shown: str) -> None:
    with pytest.raises(la.ConfigurationError) as info:
        resolve_quota_store(bad, auto=no_auto)
    assert str(info.value) == f"quota_store must be a file path, 'auto' or None, not {shown}"
