"""The client's rate-limit, cache and single-flight guarantees, on a fake clock."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import aiohttp
import aiolimiter
import pytest
from _windows import max_in_window
from aioresponses import CallbackResult, aioresponses
from conftest import API_KEY, BASE, META_JSON, torrent_json
from test_client import META, SEARCH, sent_count
from yarl import URL

import lacale_async as la
from lacale_async import FakeClock, LaCaleClient


@pytest.fixture
def mock() -> Iterator[aioresponses]:
    with aioresponses() as m:
        yield m


def make_client(clock: FakeClock, key: str = API_KEY, **kwargs: Any) -> LaCaleClient:
    options: dict[str, Any] = {
        "base_url": BASE,
        "search_rate": None,
        "meta_rate": None,
        "clock": clock,
    }
    options.update(kwargs)
    return LaCaleClient(key, **options)


def json_result(data: object, status: int = 200) -> CallbackResult:
    """A callback answer with a JSON body (aioresponses types ``payload`` as a dict only)."""
    return CallbackResult(status=status, body=json.dumps(data))


def one_result(url: URL, **kwargs: Any) -> CallbackResult:
    return json_result([torrent_json(0)])


def gated(gate: asyncio.Event) -> Any:
    """A callback that answers one result once ``gate`` is set: requests stay in flight."""

    async def slow(url: URL, **kwargs: Any) -> CallbackResult:
        await gate.wait()
        return json_result([torrent_json(0)])

    return slow


# -- single-flight and cache ---------------------------------------------------------------


async def test_a_thousand_concurrent_identical_searches_send_one_request(
    mock: aioresponses,
) -> None:
    gate = asyncio.Event()
    mock.get(SEARCH, callback=gated(gate), repeat=True)
    clock = FakeClock()
    async with make_client(clock) as client:
        tasks = [asyncio.create_task(client.search("x")) for _ in range(1000)]
        await asyncio.sleep(0)
        gate.set()
        results = await asyncio.gather(*tasks)
        stats = client.stats
    assert sent_count(mock) == 1
    assert all(r == results[0] for r in results)
    assert stats.coalesced == 999
    assert stats.endpoints["search"].requests == 1


async def test_normalised_queries_share_one_cache_entry(mock: aioresponses) -> None:
    mock.get(SEARCH, callback=one_result, repeat=True)
    async with make_client(FakeClock()) as client:
        await client.search("Amélie", categories=["series", "films"])
        await client.search("  amelie ", categories=("films", "series", "films"))
        await client.search("AMÉLIE", categories=["films", "series"])
        assert client.stats.cache_hits == 2
        await client.search("amelie", categories=["films"])
    assert sent_count(mock) == 2


async def test_cache_expires_after_ttl(mock: aioresponses) -> None:
    mock.get(SEARCH, callback=one_result, repeat=True)
    clock = FakeClock()
    async with make_client(clock, cache_ttl=30) as client:
        await client.search("x")
        clock.advance(29.5)
        await client.search("x")
        assert sent_count(mock) == 1
        clock.advance(1)
        await client.search("x")
    assert sent_count(mock) == 2


async def test_server_max_age_shortens_the_ttl(mock: aioresponses) -> None:
    mock.get(
        SEARCH,
        payload=[torrent_json(0)],
        headers={"Cache-Control": "max-age=30", "Age": "25"},
        repeat=True,
    )
    clock = FakeClock()
    async with make_client(clock) as client:
        await client.search("x")
        clock.advance(4)
        await client.search("x")
        assert sent_count(mock) == 1
        clock.advance(2)
        await client.search("x")
    assert sent_count(mock) == 2


async def test_no_store_is_not_cached(mock: aioresponses) -> None:
    mock.get(SEARCH, payload=[], headers={"Cache-Control": "no-store"}, repeat=True)
    async with make_client(FakeClock()) as client:
        await client.search("x")
        await client.search("x")
    assert sent_count(mock) == 2


async def test_cache_ttl_zero_disables_the_cache(mock: aioresponses) -> None:
    mock.get(SEARCH, callback=one_result, repeat=True)
    async with make_client(FakeClock(), cache_ttl=0) as client:
        await client.search("x")
        await client.search("x")
    assert sent_count(mock) == 2


async def test_bypass_and_refresh(mock: aioresponses) -> None:
    mock.get(SEARCH, payload=[torrent_json(0)])
    mock.get(SEARCH, payload=[torrent_json(0), torrent_json(1)])
    mock.get(SEARCH, payload=[torrent_json(0), torrent_json(1), torrent_json(2)])
    async with make_client(FakeClock()) as client:
        assert len(await client.search("x")) == 1
        assert len(await client.search("x", cache="bypass")) == 2
        assert len(await client.search("x")) == 1
        assert len(await client.search("x", cache="refresh")) == 3
        assert len(await client.search("x")) == 3
    assert sent_count(mock) == 3


async def test_errors_are_never_cached(mock: aioresponses) -> None:
    mock.get(SEARCH, status=500)
    mock.get(SEARCH, payload=[torrent_json(0)])
    async with make_client(FakeClock(), max_retries=0) as client:
        with pytest.raises(la.ServerError):
            await client.search("x")
        assert len(await client.search("x")) == 1
    assert sent_count(mock) == 2


async def test_an_error_reaches_every_coalesced_waiter(mock: aioresponses) -> None:
    gate = asyncio.Event()

    async def failing(url: URL, **kwargs: Any) -> CallbackResult:
        await gate.wait()
        return CallbackResult(status=403, payload={"error": "Clé invalide"})

    mock.get(SEARCH, callback=failing, repeat=True)
    async with make_client(FakeClock()) as client:
        tasks = [asyncio.create_task(client.search("x")) for _ in range(20)]
        await asyncio.sleep(0)
        gate.set()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(o, la.PermissionDeniedError) for o in outcomes)
    assert sent_count(mock) == 1


async def test_cancelling_one_waiter_does_not_cancel_the_shared_request(
    mock: aioresponses,
) -> None:
    gate = asyncio.Event()
    mock.get(SEARCH, callback=gated(gate), repeat=True)
    async with make_client(FakeClock()) as client:
        first = asyncio.create_task(client.search("x"))
        second = asyncio.create_task(client.search("x"))
        await asyncio.sleep(0.01)
        first.cancel()
        await asyncio.sleep(0)
        gate.set()
        assert len(await second) == 1
        with pytest.raises(asyncio.CancelledError):
            await first
        # The answer was cached even though its first caller went away.
        assert len(await client.search("x")) == 1
    assert sent_count(mock) == 1


async def test_the_lru_bound_holds(mock: aioresponses) -> None:
    mock.get(SEARCH, callback=one_result, repeat=True)
    async with make_client(FakeClock(), cache_size=3) as client:
        for q in ("a", "b", "c", "d"):
            await client.search(q)
        await client.search("d")
        await client.search("b")
        assert sent_count(mock) == 4
        await client.search("a")
    assert sent_count(mock) == 5


async def test_two_keys_never_share_cache_entries(mock: aioresponses) -> None:
    mock.get(SEARCH, callback=one_result, repeat=True)
    clock = FakeClock()
    async with make_client(clock) as one, make_client(clock, key="another-key-42") as two:
        await one.search("x")
        await two.search("x")
        await one.search("x")
    assert sent_count(mock) == 2


async def test_meta_is_single_flight(mock: aioresponses) -> None:
    mock.get(META, payload=META_JSON, repeat=True)
    async with make_client(FakeClock()) as client:
        metas = await asyncio.gather(*(client.meta() for _ in range(50)))
    assert all(m == metas[0] for m in metas)
    assert sent_count(mock) == 1


# -- limiters ------------------------------------------------------------------------------


def recording(clock: FakeClock, times: list[float], status: int = 200) -> Any:
    def callback(url: URL, **kwargs: Any) -> CallbackResult:
        times.append(clock.now())
        return json_result([], status)

    return callback


async def test_search_rate_is_enforced_with_bursts(mock: aioresponses) -> None:
    clock = FakeClock()
    times: list[float] = []
    mock.get(SEARCH, callback=recording(clock, times), repeat=True)
    async with make_client(clock, search_rate=(5, 10.0), cache_ttl=0) as client:
        await asyncio.gather(*(client.search(f"q{i}") for i in range(20)))
        waited = client.stats.endpoints["search"].limiter_wait
    assert len(times) == 20
    assert times[:5] == [0.0] * 5
    assert max_in_window(times, 10.0) == 5
    # Theoretical minimum: three more windows after the first burst.
    assert 30.0 <= max(times) <= 30.0 * 1.1
    assert waited > 0


async def test_several_rates_must_all_hold(mock: aioresponses) -> None:
    clock = FakeClock()
    times: list[float] = []
    mock.get(SEARCH, callback=recording(clock, times), repeat=True)
    rates = [(2, 1.0), (5, 10.0)]
    async with make_client(clock, search_rate=rates, cache_ttl=0) as client:
        await asyncio.gather(*(client.search(f"q{i}") for i in range(12)))
    assert max_in_window(times, 1.0) <= 2
    assert max_in_window(times, 10.0) <= 5


async def test_two_clients_on_one_key_share_one_budget(mock: aioresponses) -> None:
    clock = FakeClock()
    times: list[float] = []
    mock.get(SEARCH, callback=recording(clock, times), repeat=True)
    options: dict[str, Any] = {"search_rate": (5, 10.0), "cache_ttl": 0}
    async with make_client(clock, **options) as one, make_client(clock, **options) as two:
        await asyncio.gather(
            *(one.search(f"a{i}") for i in range(5)), *(two.search(f"b{i}") for i in range(5))
        )
    assert max_in_window(times, 10.0) == 5
    assert max(times) >= 10.0


async def test_two_keys_have_separate_budgets(mock: aioresponses) -> None:
    clock = FakeClock()
    times: list[float] = []
    mock.get(SEARCH, callback=recording(clock, times), repeat=True)
    options: dict[str, Any] = {"search_rate": (5, 10.0), "cache_ttl": 0}
    async with (
        make_client(clock, **options) as one,
        make_client(clock, key="other-key-99", **options) as two,
    ):
        await asyncio.gather(
            *(one.search(f"a{i}") for i in range(5)), *(two.search(f"b{i}") for i in range(5))
        )
    assert times == [0.0] * 10


async def test_a_429_pauses_every_caller_of_the_endpoint(mock: aioresponses) -> None:
    clock = FakeClock()
    times: list[float] = []
    mock.get(SEARCH, status=429, headers={"Retry-After": "20"})
    mock.get(SEARCH, callback=recording(clock, times), repeat=True)
    async with make_client(clock, search_rate=(10, 1.0), cache_ttl=0) as client:
        first = asyncio.create_task(client.search("first"))
        await asyncio.sleep(0)
        others = [asyncio.create_task(client.search(f"q{i}")) for i in range(9)]
        await asyncio.gather(first, *others)
        assert client.stats.rate_limited == 1
    # The nine others were held back until the pause ended, even those queued before the 429.
    assert len(times) == 10
    late = [t for t in times if t >= 20.0]
    assert len(late) >= 9


async def test_user_supplied_aiolimiter_is_accepted(mock: aioresponses) -> None:
    mock.get(SEARCH, callback=one_result, repeat=True)
    async with make_client(
        FakeClock(), search_rate=aiolimiter.AsyncLimiter(100, 1), cache_ttl=0
    ) as client:
        await asyncio.gather(*(client.search(f"q{i}") for i in range(3)))
    assert sent_count(mock) == 3


async def test_search_many_collapses_duplicates_and_keeps_going_after_errors(
    mock: aioresponses,
) -> None:
    def answer(url: URL, **kwargs: Any) -> CallbackResult:
        if url.query.get("q") == "boom":
            return CallbackResult(status=400, payload={"error": "requête invalide"})
        return json_result([torrent_json(0)])

    mock.get(SEARCH, callback=answer, repeat=True)
    progress: list[tuple[int, int]] = []
    queries: list[str | la.SearchQuery] = ["Amélie", "Amélie", "amelie", "boom"]
    queries.append(la.SearchQuery(query="x", categories=("f",)))
    async with make_client(FakeClock()) as client:
        outcomes = [
            o
            async for o in client.search_many(
                queries, on_progress=lambda done, total: progress.append((done, total))
            )
        ]
        stats = client.stats
    by_query = {o.query.query: o for o in outcomes}
    # One outcome per distinct input; "amelie" shares the request of "Amélie".
    assert len(outcomes) == 4
    assert isinstance(by_query["boom"].error, la.BadRequestError)
    assert by_query["Amélie"].results == by_query["amelie"].results
    assert progress[-1] == (4, 4)
    assert sent_count(mock) == 3
    assert stats.coalesced + stats.cache_hits == 1


async def test_search_many_validates_before_sending(mock: aioresponses) -> None:
    async with make_client(FakeClock()) as client:
        with pytest.raises(la.ValidationError):
            client.search_many(["ok", "x" * 201])
    assert sent_count(mock) == 0


async def test_a_refused_connection_does_not_spend_rate_budget(mock: aioresponses) -> None:
    clock = FakeClock()
    times: list[float] = []
    refused = aiohttp.ClientConnectorError(
        aiohttp.client_reqrep.ConnectionKey("tracker.test", 443, True, True, None, None, None),
        OSError(111, "Connection refused"),
    )
    mock.get(SEARCH, exception=refused)
    mock.get(SEARCH, callback=recording(clock, times), repeat=True)
    async with make_client(clock, search_rate=(1, 60.0), cache_ttl=0) as client:
        await client.search("x")
    # Only the backoff delay, not a 60 s window: the refused attempt reached no server.
    assert len(times) == 1
    assert times[0] < 5.0
