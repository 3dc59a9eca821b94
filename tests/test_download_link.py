"""When a search result's downloadLink may be used: origin, torrent, token and its expiry."""

from __future__ import annotations

import base64

import pytest
from _live_samples import make_jwt

from lacale_async._download_link import (
    EXPIRY_MARGIN,
    link_target,
    link_token,
    maskable,
    token_expiry,
)
from lacale_async._origin import MIN_KEY_LENGTH

BASE = "https://tracker.test"
HASH = "ab" * 20
NOW = 1_780_000_000.0


def link(token: str, *, origin: str = BASE, path: str = f"/api/download/{HASH}") -> str:
    return f"{origin}{path}?token={token}"


def test_token_expiry_reads_exp_without_verifying() -> None:
    assert token_expiry(make_jwt(NOW + 600)) == NOW + 600
    assert token_expiry(make_jwt(None, sub="u")) is None


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        "a.b",
        "a.%%%.c",
        "a.é.c",
        "a." + base64.urlsafe_b64encode(b"[1, 2]").decode().rstrip("=") + ".c",
        "a." + base64.urlsafe_b64encode(b'{"exp": "soon"}').decode().rstrip("=") + ".c",
        "a." + base64.urlsafe_b64encode(b"\xff\xfe").decode().rstrip("=") + ".c",
    ],
)
def test_token_expiry_of_anything_else_is_unknown(token: str) -> None:
    assert token_expiry(token) is None


def test_a_fresh_same_origin_link_is_used_without_the_key() -> None:
    token = make_jwt(NOW + 3600)
    target = link_target(link(token), base_url=BASE, info_hash=HASH, now=NOW)
    assert target is not None
    assert target.path == f"/api/download/{HASH}"
    assert target.params == {"token": token}
    assert token not in repr(target)


def test_a_link_under_the_base_path_keeps_only_the_relative_path() -> None:
    token = make_jwt(NOW + 3600)
    url = link(token, path=f"/lacale/api/download/{HASH.upper()}")
    target = link_target(url, base_url=f"{BASE}/lacale", info_hash=HASH, now=NOW)
    assert target is not None
    assert target.path == f"/api/download/{HASH.upper()}"
    assert link_target(link(token), base_url=f"{BASE}/lacale", info_hash=HASH, now=NOW) is None


@pytest.mark.parametrize(
    "origin",
    [
        "http://localhost:3000",  # the February 2026 glitch
        "http://tracker.test",  # same host, another scheme
        "https://tracker.test:8443",
        "https://evil.test",
    ],
)
def test_a_link_on_another_origin_is_never_used(origin: str) -> None:
    url = link(make_jwt(NOW + 3600), origin=origin)
    assert link_target(url, base_url=BASE, info_hash=HASH, now=NOW) is None


@pytest.mark.parametrize(
    "url",
    [
        None,
        "",
        f"/api/download/{HASH}?token=abc",  # relative
        f"{BASE}/api/download/{'cd' * 20}?token=abc",  # another torrent
        f"{BASE}/api/download/{HASH}",  # no token
        f"{BASE}/api/download/{HASH}?token=",
        "https://[::1/bad",
    ],
)
def test_links_that_cannot_be_trusted_fall_back(url: str | None) -> None:
    assert link_target(url, base_url=BASE, info_hash=HASH, now=NOW) is None


def test_an_expired_or_nearly_expired_token_falls_back() -> None:
    assert link_target(link(make_jwt(NOW - 1)), base_url=BASE, info_hash=HASH, now=NOW) is None
    almost = make_jwt(NOW + EXPIRY_MARGIN - 1)
    assert link_target(link(almost), base_url=BASE, info_hash=HASH, now=NOW) is None
    later = make_jwt(NOW + EXPIRY_MARGIN + 1)
    assert link_target(link(later), base_url=BASE, info_hash=HASH, now=NOW) is not None


def test_a_token_without_exp_is_tried() -> None:
    # Nothing says it expired: the tracker decides (a refusal falls back to the key).
    target = link_target(link("opaque-token"), base_url=BASE, info_hash=HASH, now=NOW)
    assert target is not None
    assert target.params == {"token": "opaque-token"}


def test_credentials_in_the_link_are_not_forwarded() -> None:
    url = f"{BASE}/api/download/{HASH}?token=t&apikey=other&passkey=p&x=1"
    target = link_target(url, base_url=BASE, info_hash=HASH, now=NOW)
    assert target is not None
    assert target.params == {"token": "t", "x": "1"}


@pytest.mark.parametrize("link", [123, b"https://la-cale.space/api/download/x", ["x"]])
def test_a_link_that_is_no_text_means_the_documented_path(link: object) -> None:
    # A Torrent built by the caller: yarl's URL() raised a raw TypeError.
    assert link_target(link, base_url=BASE, info_hash=HASH, now=NOW) is None  # type: ignore[arg-type]


def test_a_token_is_masked_only_when_it_is_as_long_as_a_key_may_be() -> None:
    assert not maskable("ab")
    assert maskable("x" * MIN_KEY_LENGTH)
    assert link_token("https://h/api/download/x?token=ab") is None
    assert link_token(f"https://h/api/download/x?token={'t' * MIN_KEY_LENGTH}") == "t" * 8
