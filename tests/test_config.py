"""The client's options, checked once at construction (``_config``)."""

from __future__ import annotations

from typing import Any

import pytest
from _mocked import make_live_client
from conftest import API_KEY, BASE

import lacale_async as la
from lacale_async import LaCaleClient

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
    ("base_url", "allow"),
    [("http://la-cale.space", False), ("ftp://x", False), ("https://x/?apikey=1", False)],
)
def test_bad_base_urls_are_refused(base_url: str, allow: bool) -> None:
    with pytest.raises(la.ConfigurationError):
        LaCaleClient(API_KEY, base_url=base_url, allow_insecure_http=allow)


def test_plain_http_is_allowed_on_loopback_or_with_opt_in() -> None:
    assert LaCaleClient(API_KEY, base_url="http://localhost:1").base_url == "http://localhost:1"
    assert LaCaleClient(API_KEY, base_url="http://[::1]:1").base_url == "http://[::1]:1"
    client = LaCaleClient(API_KEY, base_url="http://tracker.lan", allow_insecure_http=True)
    assert client.base_url == "http://tracker.lan"


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


def test_key_with_control_characters_is_refused_without_quoting_it() -> None:
    with pytest.raises(la.ConfigurationError) as info:
        LaCaleClient("abc\ndef-SECRET", base_url=BASE)
    assert "SECRET" not in str(info.value)


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
