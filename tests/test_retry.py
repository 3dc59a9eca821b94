"""Backoff delays and Retry-After parsing."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from aioresponses import aioresponses
from conftest import API_KEY, BASE

import lacale_async as la
from lacale_async import FakeClock, LaCaleClient
from lacale_async._retry import Backoff, parse_retry_after

SEARCH = re.compile(r"^https://tracker\.test/api/external(\?.*)?$")


@pytest.fixture
def mock() -> Iterator[aioresponses]:
    with aioresponses() as m:
        yield m


def test_backoff_doubles_within_full_jitter_bounds() -> None:
    backoff = Backoff(base=0.5, cap=30.0, rng=random.Random(1))
    for attempt in range(5):
        ceiling = 0.5 * 2**attempt
        assert ceiling / 2 <= backoff.delay(attempt) <= ceiling


def test_retry_after_wins_over_the_computed_delay() -> None:
    assert Backoff().delay(3, retry_after=7.0) == 7.0


@pytest.mark.parametrize("attempt", [1023, 1024, 1025, 2000, 10**6, 10**30])
def test_any_attempt_number_gives_a_capped_delay(attempt: int) -> None:
    backoff = Backoff(base=0.5, cap=30.0, rng=random.Random(1))
    assert 15.0 <= backoff.delay(attempt) <= 30.0


async def test_thousands_of_retries_against_an_always_503_server_end_in_server_error(
    mock: aioresponses,
) -> None:
    # 2**1024 overflowed a float: attempt 1,025 raised OverflowError instead of retrying.
    mock.get(SEARCH, status=503, body="down", repeat=True)
    clock = FakeClock()
    # No key budget either: 1,101 requests would spend five days of it.
    async with LaCaleClient(
        API_KEY, base_url=BASE, search_rate=None, key_rate=None, max_retries=1100, clock=clock
    ) as client:
        with pytest.raises(la.ServerError):
            await client.search("x")
        assert client.stats.endpoints["search"].requests == 1101


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", None), ("3", 3.0), ("-1", 0.0), ("inf", None), ("nan", None), ("x", None)],
)
def test_retry_after_values(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_an_http_date_is_read_against_the_given_time() -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert parse_retry_after("Thu, 01 Jan 2026 00:00:09 GMT", now=now) == 9.0
    assert parse_retry_after("Wed, 31 Dec 2025 23:59:00 GMT", now=now) == 0.0
