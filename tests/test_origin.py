"""The base URL and API key checks (``_origin``): one canonical origin, keys never quoted."""

from __future__ import annotations

import traceback

import pytest
from conftest import API_KEY, BASE

import lacale_async as la
from lacale_async import LaCaleClient
from lacale_async._origin import check_base_url

# -- what a base URL may be ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "allow"),
    [("http://la-cale.space", False), ("ftp://x", False), ("https://x/?apikey=1", False)],
)
def test_bad_base_urls_are_refused(base_url: str, allow: bool) -> None:
    with pytest.raises(la.ConfigurationError):
        LaCaleClient(API_KEY, base_url=base_url, allow_insecure_http=allow)


@pytest.mark.parametrize(
    "base_url",
    [
        pytest.param("https://" + "a" * 10_000_000 + ".test", id="10 MB"),
        "https://.../api",
        "https://a..b/",
        "https://" + "a" * 64 + ".test",  # a DNS label is at most 63 characters
        "https://" + ".".join(["a" * 60] * 5),  # a DNS name is at most 253 characters
        "https://exa_mple!.test",
    ],
)
def test_base_urls_that_cannot_be_reached_are_refused_at_construction(base_url: str) -> None:
    with pytest.raises(la.ConfigurationError, match="base_url"):
        LaCaleClient(API_KEY, base_url=base_url)


def test_base_url_hosts_that_are_fine() -> None:
    for url in ("https://la-cale.space", "https://xn--caf-dma.test"):
        assert check_base_url(url, allow_insecure_http=False) == url
    # IDNA-encoded: the canonical spelling of the origin (see the spellings test).
    assert check_base_url("https://café.test/api/", allow_insecure_http=False) == (
        "https://xn--caf-dma.test/api"
    )
    for url in ("http://127.0.0.1:8080", "http://[::1]:1", "http://localhost"):
        assert check_base_url(url, allow_insecure_http=False) == url


def test_plain_http_is_allowed_on_loopback_or_with_opt_in() -> None:
    assert LaCaleClient(API_KEY, base_url="http://localhost:1").base_url == "http://localhost:1"
    assert LaCaleClient(API_KEY, base_url="http://[::1]:1").base_url == "http://[::1]:1"
    client = LaCaleClient(API_KEY, base_url="http://tracker.lan", allow_insecure_http=True)
    assert client.base_url == "http://tracker.lan"


@pytest.mark.parametrize(
    "url",
    [
        "https://la-cale.space:99999/api?apikey=SECRET-KEY-42",  # a port typo
        "htps://la-cale.space/?passkey=SECRET-KEY-42",  # a scheme typo
        "https://user:SECRET-KEY-42@la-cale.space:44x3/",  # credentials and a bad port
        "ftp://la-cale.space/#SECRET-KEY-42",
        "https://la-cale.space&apikey=SECRET-KEY-42",  # a "?" forgotten: all of it is the host
        "https://la-cale.space;passkey=SECRET-KEY-42",
    ],
)
def test_a_mistyped_base_url_is_quoted_without_the_key_it_holds(url: str) -> None:
    with pytest.raises(la.ConfigurationError) as info:
        check_base_url(url, allow_insecure_http=False)
    # The host is lowercased as it is parsed: look for the key in any case.
    assert "secret-key-42" not in "".join(traceback.format_exception(info.value)).lower()
    assert "la-cale.space" in str(info.value)  # still says which URL


# -- one origin, one spelling --------------------------------------------------------------

SPELLINGS = [
    "https://la-cale.space",
    "https://LA-CALE.SPACE",
    "HTTPS://la-cale.space",
    "https://la-cale.space:443",
    "https://la-cale.space.",
    "HTTPS://La-Cale.Space.:443/",
]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_every_spelling_of_an_origin_is_the_canonical_base_url(spelling: str) -> None:
    client = LaCaleClient(API_KEY, base_url=spelling)
    assert client.base_url == "https://la-cale.space"
    assert client._config.scope == LaCaleClient(API_KEY)._config.scope


def test_http_loopback_spellings_and_paths_are_canonical_too() -> None:
    def canonical(url: str) -> str:
        return LaCaleClient(API_KEY, base_url=url).base_url

    assert canonical("HTTP://127.0.0.1:80/") == "http://127.0.0.1"
    assert canonical("http://LOCALHOST.:8080/API/") == "http://localhost:8080/API"
    assert canonical("https://café.test/") == "https://xn--caf-dma.test"
    # Not the default port: another origin, another budget.
    assert canonical("https://la-cale.space:8443") == "https://la-cale.space:8443"
    with pytest.raises(la.ConfigurationError, match="query"):
        LaCaleClient(API_KEY, base_url="https://la-cale.space/?")


# -- the key -------------------------------------------------------------------------------


def test_key_with_control_characters_is_refused_without_quoting_it() -> None:
    with pytest.raises(la.ConfigurationError) as info:
        LaCaleClient("abc\ndef-SECRET", base_url=BASE)
    assert "SECRET" not in str(info.value)


@pytest.mark.parametrize("key", ["n", "abc", "1234567"])
def test_a_key_too_short_to_be_told_from_text_is_refused(key: str) -> None:
    # Scrubbing a one-letter key from messages would garble every word holding that letter.
    with pytest.raises(la.ConfigurationError, match="shorter than any tracker key") as info:
        LaCaleClient(key, base_url=BASE)
    assert f"'{key}'" not in str(info.value)


def test_a_short_key_of_the_minimum_length_is_taken() -> None:
    assert LaCaleClient("12345678", base_url=BASE).base_url == BASE
