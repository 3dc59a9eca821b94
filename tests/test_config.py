"""The client's options, checked once at construction (``_config``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from _mocked import make_live_client
from aioresponses import aioresponses
from conftest import API_KEY, BASE

import lacale_async as la
from lacale_async import FakeClock, LaCaleClient

YEAR = 365 * 86_400.0

# -- the network faked at the HTTP boundary ----------------------------------------------


def test_missing_key_is_a_clear_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LACALE_API_KEY", raising=False)
    with pytest.raises(la.ConfigurationError, match="LACALE_API_KEY"):
        LaCaleClient()


def test_key_and_base_url_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LACALE_API_KEY", API_KEY)
    monkeypatch.setenv("LACALE_BASE_URL", "http://127.0.0.1:8080/")
    client = LaCaleClient()
    assert client.base_url == "http://127.0.0.1:8080"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"auth": "cookie"},
        {"search_rate": (0, 1.0)},
        {"search_rate": (1, -1.0)},
        {"upload_rate": "fast"},
        {"cache_ttl": -1},
        {"max_retries": -1},
        {"timeout": 0},
        {"source_policy": "maybe"},
    ],
)
def test_bad_options_fail_at_construction(kwargs: dict[str, Any]) -> None:
    with pytest.raises(la.ConfigurationError):
        LaCaleClient(API_KEY, base_url=BASE, **kwargs)


PASTED = "sk_live_0123456789abcdefSECRETKEY"


@pytest.mark.parametrize(
    ("kwargs", "env"),
    [
        ({"base_url": PASTED}, {}),
        ({}, {"LACALE_BASE_URL": PASTED}),
        ({"base_url": f"https://la-cale.space\n{PASTED}"}, {}),
        ({"base_url": f"https://la-cale.space/{PASTED} "}, {}),
        ({"base_url": f"https://la-cale.space/{PASTED}"}, {}),  # valid, but shown everywhere
        ({}, {"LACALE_KEY_RATE": PASTED}),
        ({"auth": PASTED}, {}),
        ({"timeout": PASTED}, {}),
    ],
)
def test_the_key_pasted_into_another_option_is_never_quoted(
    kwargs: dict[str, Any], env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LACALE_BASE_URL", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(la.ConfigurationError) as info:
        LaCaleClient(PASTED, **kwargs)
    error = info.value
    shown = " ".join(str(part) for part in (error, error.reason, error.hint, repr(error)))
    assert "SECRETKEY" not in shown
    assert error.__cause__ is None
    assert error.__context__ is None  # the original error, which quotes the key, is gone


@pytest.mark.parametrize(
    "kwargs",
    [
        {"user_agent": "bot\r\nX-Evil: 1"},
        {"max_body_size": "16M"},
        {"timeout": "5"},
        {"base_url": "https://la-cale.space:99999"},
        {"base_url": "http://[::1"},
        {"base_url": "https://exa mple.com"},
        {"max_retry_wait": -1},
        {"cache_size": True},
    ],
)
def test_more_bad_options_fail_at_construction(kwargs: dict[str, Any]) -> None:
    options: dict[str, Any] = {"base_url": BASE}
    options.update(kwargs)
    with pytest.raises(la.ConfigurationError):
        LaCaleClient(API_KEY, **options)


# -- answers shaped like the live tracker's ----------------------------------------------


def test_allow_empty_search_must_be_a_bool() -> None:
    with pytest.raises(la.ConfigurationError, match="allow_empty_search"):
        make_live_client(allow_empty_search="yes")


# -- two spellings of one origin, one budget ----------------------------------------------


async def test_two_spellings_of_one_origin_share_one_key_budget() -> None:
    clock = FakeClock()
    options: dict[str, Any] = {
        "key_rate": (1, 3600.0),
        "quota_store": None,
        "search_rate": None,
        "clock": clock,
    }
    with aioresponses() as mock:
        mock.get(re.compile(r"^https://la-cale\.space/.*"), payload=[], repeat=True)
        async with LaCaleClient(API_KEY, base_url="https://la-cale.space", **options) as a:
            await a.search("one")
            async with LaCaleClient(API_KEY, base_url="HTTPS://LA-CALE.SPACE.:443", **options) as b:
                assert (await b.quota()).remaining == 0
                with pytest.raises(la.QuotaExceededError):
                    await b.search("two")
        assert sum(len(v) for v in (mock.requests or {}).values()) == 1


# -- paths no file can have ------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["q\x00.db", "/tmp/x/\ud800.db", Path("q\udcff.db")])
def test_a_quota_store_no_file_can_have_is_refused_at_construction(bad: Any) -> None:
    with pytest.raises(la.ConfigurationError, match="quota_store path contains"):
        LaCaleClient(API_KEY, base_url=BASE, quota_store=bad)


@pytest.mark.parametrize("variable", ["LACALE_QUOTA_STORE", "LACALE_CACHE_DIR"])
def test_a_store_variable_no_file_can_have_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str
) -> None:
    monkeypatch.delenv("LACALE_QUOTA_STORE", raising=False)
    # A variable cannot hold a NUL; an undecodable byte arrives as a lone surrogate.
    monkeypatch.setenv(variable, str(tmp_path / "bad\udcff"))
    with pytest.raises(la.ConfigurationError, match=f"{variable} path contains"):
        LaCaleClient(API_KEY, base_url=BASE)
    assert LaCaleClient(API_KEY, base_url=BASE, quota_store=None)._config.quota_store is None


@pytest.mark.parametrize(
    ("variable", "value", "option"),
    [
        (None, None, "quota_store"),
        ("LACALE_QUOTA_STORE", "~no_such_user_zz/q.db", "LACALE_QUOTA_STORE"),
        ("LACALE_CACHE_DIR", "~no_such_user_zz/cache", "LACALE_CACHE_DIR"),
    ],
)
def test_a_store_path_under_an_unknown_home_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch, variable: str | None, value: str | None, option: str
) -> None:
    monkeypatch.delenv("LACALE_QUOTA_STORE", raising=False)
    monkeypatch.delenv("LACALE_CACHE_DIR", raising=False)
    options: dict[str, Any] = {}
    if variable is None:
        options["quota_store"] = "~no_such_user_zz/q.db"
    else:
        monkeypatch.setenv(variable, str(value))
    # pathlib raised a raw RuntimeError ("Could not determine home directory").
    with pytest.raises(la.ConfigurationError, match=rf"{option} path .* names no home folder"):
        LaCaleClient(API_KEY, base_url=BASE, **options)


# -- durations that dates can hold -----------------------------------------------------------

RATE_OPTIONS = ["search_rate", "upload_rate", "download_rate", "meta_rate", "key_rate"]


@pytest.mark.parametrize("option", RATE_OPTIONS)
@pytest.mark.parametrize(
    "rate", [(1, 1e15), (1, 1e308), [(1, 1.0), (1, 1e300)], (1, YEAR * 1.01), (1, 10**20)]
)
def test_rate_periods_beyond_a_year_are_refused_naming_the_option(option: str, rate: Any) -> None:
    with pytest.raises(la.ConfigurationError, match=f"{option}: period") as info:
        LaCaleClient(API_KEY, base_url=BASE, quota_store=None, **{option: rate})
    assert "<= 31536000 (a year)" in str(info.value)


@pytest.mark.parametrize("value", ["1/1e308", "1/1e15", "60/60,200/1e300"])
def test_lacale_key_rate_beyond_a_year_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("LACALE_KEY_RATE", value)
    with pytest.raises(la.ConfigurationError, match=r"LACALE_KEY_RATE.*at most a year"):
        LaCaleClient(API_KEY, base_url=BASE)


async def test_a_year_long_key_window_spent_still_gives_dates() -> None:
    clock = FakeClock()
    with aioresponses() as mock:
        mock.get(re.compile(r"^https://tracker\.test/.*"), payload=[], repeat=True)
        options: dict[str, Any] = {"quota_store": None, "search_rate": None, "clock": clock}
        async with LaCaleClient(API_KEY, base_url=BASE, key_rate=(1, YEAR), **options) as c:
            await c.search("a")
            with pytest.raises(la.QuotaExceededError) as info:
                await c.search("b")
            assert info.value.retry_after == pytest.approx(YEAR, abs=1)
            quota = await c.quota()
            assert quota.windows[0].next_free_at is not None
            assert quota.next_free_at is not None


@pytest.mark.parametrize(
    "option", ["cache_ttl", "meta_ttl", "max_retry_wait", "max_quota_wait", "timeout"]
)
@pytest.mark.parametrize("value", [1e15, 10**20, pytest.param(10**5000, id="10**5000")])
def test_durations_beyond_their_bound_are_refused(option: str, value: Any) -> None:
    with pytest.raises(la.ConfigurationError, match=option):
        LaCaleClient(API_KEY, base_url=BASE, quota_store=None, **{option: value})
