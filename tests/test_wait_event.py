"""Waits seen as they happen (``on_wait``): which limit holds a request back, and how long."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import aiolimiter
import pytest
from _mocked import SEARCH, make_client
from aioresponses import aioresponses
from conftest import API_KEY, BASE

import lacale_async as la
from lacale_async import FakeClock, LaCaleClient, WaitEvent


@pytest.fixture
def mock() -> Iterator[aioresponses]:
    with aioresponses() as m:
        m.get(SEARCH, payload=[], repeat=True)
        yield m


async def test_each_request_reports_its_endpoint_wait_then_its_key_wait(
    mock: aioresponses,
) -> None:
    clock = FakeClock()
    events: list[WaitEvent] = []
    async with make_client(
        clock, search_rate=(1, 10.0), key_rate=(60, 60.0), quota_store=None, on_wait=events.append
    ) as client:
        await client.search("first")
        await client.search("second")  # the search limiter holds it back one window
    shape = [(e.limit, e.ended) for e in events]
    assert shape == [("endpoint", False), ("endpoint", True), ("key", False), ("key", True)] * 2
    assert {e.endpoint for e in events} == {"search"}
    assert {e.rates for e in events if e.limit == "endpoint"} == {((1, 10.0),)}
    assert {e.rates for e in events if e.limit == "key"} == {((60, 60.0),)}
    waited = [e.waited for e in events if e.ended]
    assert waited[:2] == [0.0, 0.0]
    assert waited[2] == pytest.approx(10.0 + 0.2)  # the window and its margin
    assert waited[3] == 0.0
    assert all(e.waited == 0.0 for e in events if not e.ended)


async def test_a_limiter_whose_windows_are_unknown_reports_none(mock: aioresponses) -> None:
    events: list[WaitEvent] = []
    limiter = aiolimiter.AsyncLimiter(5, 1.0)
    async with make_client(
        FakeClock(), search_rate=limiter, key_rate=None, on_wait=events.append
    ) as client:
        await client.search("x")
    assert [(e.limit, e.rates) for e in events] == [("endpoint", ()), ("endpoint", ())]


async def test_nothing_is_reported_for_a_request_without_limits(mock: aioresponses) -> None:
    events: list[WaitEvent] = []
    async with make_client(FakeClock(), key_rate=None, on_wait=events.append) as client:
        await client.search("x")
    assert events == []


async def test_a_callback_that_raises_never_fails_the_request(
    mock: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: WaitEvent) -> None:
        raise RuntimeError("display gone")

    async with make_client(
        FakeClock(), search_rate=(5, 1.0), key_rate=None, on_wait=broken
    ) as client:
        assert await client.search("x") == []
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["on_wait raised RuntimeError: display gone; ignored"] * 2


class _Interrupt(BaseException):
    """Like KeyboardInterrupt or SystemExit: not an error the reporter may swallow."""


@pytest.mark.parametrize("limit", ["endpoint", "key"])
async def test_a_callback_raising_a_base_exception_as_the_wait_ends_gives_the_slot_back(
    mock: aioresponses, limit: str
) -> None:
    # The slot was entered before the end of the wait was reported: left taken, the endpoint
    # limiter (or the key budget) waited for its exit for ever, and every later request hung.
    armed = [True]

    def interrupting(event: WaitEvent) -> None:
        if event.ended and event.limit == limit and armed[0]:
            armed[0] = False
            raise _Interrupt

    async with make_client(
        FakeClock(), search_rate=(1, 1.0), key_rate=(1, 1.0), quota_store=None, on_wait=interrupting
    ) as client:
        with pytest.raises(_Interrupt):
            await client.search("x")
        # A safety net only: with the slot given back, the fake clock frees it at once.
        assert await asyncio.wait_for(client.search("y"), 10.0) == []
        quota = await client.quota()
        assert quota.windows[0].used <= 1


def test_on_wait_must_be_callable() -> None:
    with pytest.raises(la.ConfigurationError, match="on_wait must be a callable"):
        LaCaleClient(API_KEY, base_url=BASE, on_wait="print")  # type: ignore[arg-type]
