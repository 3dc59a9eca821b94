"""Redis URLs shown to people (``fleet._redis_url``): no password survives, however written."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lacale_async.fleet._redis_url import redact_redis_url, redis_url_is_malformed, url_start


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:hunter2@h:6379/0", "redis://:***@h:6379/0"),
        ("redis://bob:hunter2@h:6379/0", "redis://bob:***@h:6379/0"),
        ("rediss://hunter2@h/1", "rediss://***@h/1"),
        ("redis://h:6379/0?password=hunter2&db=1", "redis://h:6379/0?password=***&db=1"),
        ("unix://:hunter2@/tmp/redis.sock?db=0", "unix://:***@/tmp/redis.sock?db=0"),
        ("redis://localhost:6379/0", "redis://localhost:6379/0"),
        # Unencoded # ? / move part of the password out of the user part: cut at the last @.
        ("redis://:hun7er#tw0z@h:6379/0", "redis://***@h:6379/0"),
        ("redis://:hun7er?tw0z@h:6379/0", "redis://***@h:6379/0"),
        ("redis://bob:hun7er/tw0z@h/0?password=x", "redis://***@h/0?password=***"),
        ("rediss://hun7er#tw0z@h", "rediss://***@h"),
    ],
)
def test_redact_redis_url_hides_every_password(url: str, shown: str) -> None:
    assert redact_redis_url(url) == shown


@pytest.mark.parametrize(
    ("url", "malformed"),
    [
        ("redis://:hunter2@h:6379/0", False),
        ("redis://h:6379/0", False),
        ("redis://:hun7er#tw0z@h:6379/0", True),  # the "@" landed in the fragment
        ("redis://:hun7er/tw0z@h/0", True),  # ... in the path
        ("redis://[::1/0", True),  # does not split at all
    ],
)
def test_a_url_whose_user_part_cannot_hold_the_whole_password_is_malformed(
    url: str, malformed: bool
) -> None:
    assert redis_url_is_malformed(url) is malformed


def test_an_unparsable_url_shows_nothing_of_itself() -> None:
    assert redact_redis_url("redis://:hunter2@[::1/0") == "<unparsable Redis URL>"


@pytest.mark.parametrize(
    ("url", "start"),
    [("redis:/:hunter2@h/0", "redis:/"), ("redis::hunter2@h", "redis:"), ("hunter2@h", "")],
)
def test_url_start_shows_the_scheme_and_nothing_after_it(url: str, start: str) -> None:
    assert url_start(url) == start


# The URLs' own text around the password: a password that is a piece of it ("redis:") is
# found in any redacted URL, and says nothing about the redaction.
_AROUND = "rediss://bob:@cache.internal:6379/0/1?password=&db=1 ssl_password=*** redis:/:"
_PASSWORDS = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=6, max_size=24
).filter(lambda p: p.strip() == p and p not in _AROUND and quote(p, safe="") not in _AROUND)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(password=_PASSWORDS, user=st.sampled_from(["", "bob"]), encode=st.booleans())
def test_no_password_survives_redaction_however_it_is_written(
    password: str, user: str, encode: bool
) -> None:
    # Encoded as a careful user would, or raw as one pasted from a password manager.
    secret = quote(password, safe="") if encode else password
    urls = [
        f"redis://{user}:{secret}@cache.internal:6379/0",
        f"redis://cache.internal:6379/0?password={quote(password, safe='')}&db=1",
    ]
    if ":" not in secret:
        # A bare user part with a raw ":" is a user and a password, as any URL reader takes it.
        urls.append(f"rediss://{secret}@cache.internal/1")
    for url in urls:
        shown = redact_redis_url(url)
        assert secret not in shown, (url, shown)
        assert password not in shown, (url, shown)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        # redis-py passes unknown query keys to the connection: this one is the key passphrase.
        ("rediss://h/0?ssl_password=hunter2", "rediss://h/0?ssl_password=***"),
        ("rediss://h/0?SSL_Password=hunter2&db=1", "rediss://h/0?SSL_Password=***&db=1"),
        ("rediss://h/0?ssl_certfile=%2Fc.pem&db=1", "rediss://h/0?ssl_certfile=%2Fc.pem&db=1"),
    ],
)
def test_every_query_key_redis_py_takes_as_a_secret_is_redacted(url: str, shown: str) -> None:
    assert redact_redis_url(url) == shown


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis:/:hunter2@h/0", "redis:/***"),
        ("redis::hunter2@h", "redis:***"),
        ("hunter2@h", "***"),
    ],
)
def test_a_url_with_no_network_location_shows_only_its_scheme(url: str, shown: str) -> None:
    assert redact_redis_url(url) == shown


@settings(max_examples=200, deadline=None, derandomize=True)
@given(password=_PASSWORDS, key=st.sampled_from(["password", "ssl_password"]))
def test_no_query_secret_survives_redaction(password: str, key: str) -> None:
    urls = [
        f"rediss://cache.internal/0?{key}={quote(password, safe='')}&db=1",
        f"redis:/:{quote(password, safe='')}@cache.internal/0",
    ]
    for url in urls:
        shown = redact_redis_url(url)
        assert quote(password, safe="") not in shown, (url, shown)
        assert password not in shown, (url, shown)
