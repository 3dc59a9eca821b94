"""The network faked at the HTTP boundary (aioresponses): URL patterns, clients, recorded calls.

A pytest plugin: a test module loads its fixtures with ``pytest_plugins = ["_mocked"]``
(``mock``, ``fake_clock``, ``client`` and ``live_client``) and imports the rest by name.

Three ways to build a client, as the tests need them:

* :func:`make_client` and the ``client`` fixture: no rate limits, the ``fake_clock``;
* :func:`make_paced_client`: the search and meta limits off, the upload and download limits as
  the SDK sets them, for tests of the cache, single-flight and limiters;
* :func:`make_live_client` and the ``live_client`` fixture: answers shaped like the live
  tracker's, token expiry read on a fake wall clock at :data:`NOW`, no retries.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import msgspec
import pytest
from _live_samples import live_item
from aioresponses import CallbackResult, aioresponses
from conftest import API_KEY, BASE, NO_LIMITS, info_hash_of, make_torrent, torrent_json
from yarl import URL

import lacale_async as la
from lacale_async import FakeClock, LaCaleClient
from lacale_async._models import decode_search

SEARCH = re.compile(r"^https://tracker\.test/api/external(\?.*)?$")
META = re.compile(r"^https://tracker\.test/api/external/meta(\?.*)?$")
UPLOAD = re.compile(r"^https://tracker\.test/api/external/upload(\?.*)?$")
DOWNLOAD = re.compile(r"^https://tracker\.test/api/torrents/download/.*$")
"""The documented download path, which carries the key."""
TOKEN_LINK = re.compile(r"^https://tracker\.test/api/download/.*$")
"""A live ``downloadLink``, which carries its own token instead."""

NOW = 1_780_000_000.0
"""The fake wall clock of :func:`make_live_client` (token expiry is read on it)."""
TORRENT = make_torrent("Le.Grand.Bleu.1988.MULTi.1080p")
HASH = info_hash_of(TORRENT)
CHALLENGE = (
    "<!DOCTYPE html><html><head><title>Just a moment...</title></head>"
    "<body><noscript>Enable JavaScript and cookies to continue</noscript></body></html>"
)


@pytest.fixture
def mock() -> Iterator[aioresponses]:
    with aioresponses() as m:
        yield m


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def client(fake_clock: FakeClock) -> AsyncIterator[LaCaleClient]:
    async with make_client(fake_clock) as c:
        yield c


@pytest.fixture
async def live_client() -> AsyncIterator[LaCaleClient]:
    async with make_live_client() as c:
        yield c


def offline_client(**kwargs: Any) -> LaCaleClient:
    """A client on the fake tracker: no rate limits, a fake clock, ``kwargs`` on top."""
    return make_client(FakeClock(), **kwargs)


def make_client(clock: FakeClock, key: str = API_KEY, **kwargs: Any) -> LaCaleClient:
    """A client on the fake tracker: no rate limits, ``clock``, ``kwargs`` on top."""
    options: dict[str, Any] = {"base_url": BASE, **NO_LIMITS, "clock": clock}
    options.update(kwargs)
    return LaCaleClient(key, **options)


def make_paced_client(clock: FakeClock, key: str = API_KEY, **kwargs: Any) -> LaCaleClient:
    """A client whose search and meta are unlimited; upload and download keep their rates."""
    options: dict[str, Any] = {
        "base_url": BASE,
        "search_rate": None,
        "meta_rate": None,
        "clock": clock,
    }
    options.update(kwargs)
    return LaCaleClient(key, **options)


def make_live_client(**kwargs: Any) -> LaCaleClient:
    """A client for live-shaped answers: no limits, no retries, the wall clock at NOW."""
    options: dict[str, Any] = {
        "base_url": BASE,
        **NO_LIMITS,
        # Token expiry is read on the client's clock, in wall time.
        "clock": FakeClock(wall_start=NOW),
        "max_retries": 0,
    }
    options.update(kwargs)
    return LaCaleClient(API_KEY, **options)


def calls(m: aioresponses) -> list[tuple[str, URL, dict[str, Any]]]:
    """Every request the client sent, as (method, url, kwargs)."""
    requests = m.requests or {}
    return [(method, url, call.kwargs) for (method, url), lst in requests.items() for call in lst]


def sent(m: aioresponses, method: str | None = None) -> int:
    """How many requests reached the fake network (of ``method`` only, when given)."""
    requests = (m.requests or {}).items()
    return sum(len(calls) for (verb, _), calls in requests if method in (None, verb))


def assert_no_api_key(text: str) -> None:
    assert API_KEY not in text


def json_result(data: object, status: int = 200) -> CallbackResult:
    """A callback answer with a JSON body (aioresponses types ``payload`` as a dict only)."""
    return CallbackResult(status=status, body=json.dumps(data))


def one_result(url: URL, **kwargs: Any) -> CallbackResult:
    return json_result([torrent_json(0)])


def gated(gate: asyncio.Event, arrived: asyncio.Event | None = None) -> Any:
    """A callback that answers one result once ``gate`` is set: requests stay in flight.

    ``arrived``, when given, is set as each request reaches the fake tracker.
    """

    async def slow(url: URL, **kwargs: Any) -> CallbackResult:
        if arrived is not None:
            arrived.set()
        await gate.wait()
        return json_result([torrent_json(0)])

    return slow


def torrent_with(token: str | None = None, *, origin: str = BASE) -> la.Torrent:
    """A live search result for :data:`TORRENT`, with a download link holding ``token``."""
    [torrent] = decode_search(msgspec.json.encode([live_item(HASH, token=token, origin=origin)]))
    return torrent


def key_was_sent(kwargs: dict[str, Any]) -> bool:
    headers = kwargs.get("headers") or {}
    params = kwargs.get("params") or {}
    return headers.get("X-Api-Key") == API_KEY or API_KEY in str(params)
