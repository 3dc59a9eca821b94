"""Sending a call (``_sender``): endpoint limiters and their sharing, retries, 429 pauses,
and the upload retry rule (never sent twice blindly)."""

from __future__ import annotations

import asyncio
import gc
from typing import Any, Literal

import aiohttp
import aiolimiter
import pytest
from _mocked import (
    META,
    SEARCH,
    UPLOAD,
    calls,
    json_result,
    make_client,
    make_paced_client,
    one_result,
    sent,
)
from _sandboxed import tracker_client
from _windows import max_in_window
from aioresponses import CallbackResult, aioresponses
from conftest import META_JSON, make_torrent, torrent_json
from yarl import URL

import lacale_async as la
from lacale_async import FakeClock, LaCaleClient
from lacale_async.testing import Fault, RateLimit, SandboxConfig, SandboxServer

pytest_plugins = ["_mocked", "_sandboxed"]


def recording(clock: FakeClock, times: list[float], status: int = 200) -> Any:
    def callback(url: URL, **kwargs: Any) -> CallbackResult:
        times.append(clock.now())
        return json_result([], status)

    return callback


# -- the network faked, time on a fake clock ---------------------------------------------


async def test_search_rate_is_enforced_with_bursts(mock: aioresponses) -> None:
    clock = FakeClock()
    times: list[float] = []
    mock.get(SEARCH, callback=recording(clock, times), repeat=True)
    async with make_paced_client(clock, search_rate=(5, 10.0), cache_ttl=0) as client:
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
    async with make_paced_client(clock, search_rate=rates, cache_ttl=0) as client:
        await asyncio.gather(*(client.search(f"q{i}") for i in range(12)))
    assert max_in_window(times, 1.0) <= 2
    assert max_in_window(times, 10.0) <= 5


async def test_two_clients_on_one_key_share_one_budget(mock: aioresponses) -> None:
    clock = FakeClock()
    times: list[float] = []
    mock.get(SEARCH, callback=recording(clock, times), repeat=True)
    options: dict[str, Any] = {"search_rate": (5, 10.0), "cache_ttl": 0}
    async with (
        make_paced_client(clock, **options) as one,
        make_paced_client(clock, **options) as two,
    ):
        await asyncio.gather(
            *(one.search(f"a{i}") for i in range(5)), *(two.search(f"b{i}") for i in range(5))
        )
    assert max_in_window(times, 10.0) == 5
    assert max(times) >= 10.0


async def test_a_client_opened_after_another_closed_inherits_its_window(
    mock: aioresponses,
) -> None:
    # Regression: the shared history died with the last client using it, so a script opening
    # a client per call got a fresh window each time and sent N more at once.
    clock = FakeClock()
    times: list[float] = []
    mock.get(SEARCH, callback=recording(clock, times), repeat=True)
    options: dict[str, Any] = {"search_rate": (5, 10.0), "cache_ttl": 0}
    for round_ in range(2):
        async with make_paced_client(clock, **options) as client:
            await asyncio.gather(*(client.search(f"{round_}-{i}") for i in range(5)))
        del client
        gc.collect()  # what a long-running program does sooner or later
    assert max_in_window(times, 10.0) == 5
    assert min(times[5:]) >= 10.0


async def test_an_idle_window_is_forgotten_once_its_clients_closed(mock: aioresponses) -> None:
    clock = FakeClock()
    mock.get(SEARCH, callback=one_result, repeat=True)
    async with make_paced_client(clock, search_rate=(1, 10.0), cache_ttl=0) as client:
        await client.search("x")
    del client
    gc.collect()
    await clock.sleep(11.0)
    # Another client's open prunes what no longer binds anything: nothing of the key stays.
    async with make_paced_client(clock, key="other-key-99", search_rate=(1, 10.0)):
        pass
    async with make_paced_client(clock, search_rate=(1, 10.0), cache_ttl=0) as client:
        await client.search("y")
        assert client.stats.endpoints["search"].limiter_wait == 0


async def test_two_keys_have_separate_budgets(mock: aioresponses) -> None:
    clock = FakeClock()
    times: list[float] = []
    mock.get(SEARCH, callback=recording(clock, times), repeat=True)
    options: dict[str, Any] = {"search_rate": (5, 10.0), "cache_ttl": 0}
    async with (
        make_paced_client(clock, **options) as one,
        make_paced_client(clock, key="other-key-99", **options) as two,
    ):
        await asyncio.gather(
            *(one.search(f"a{i}") for i in range(5)), *(two.search(f"b{i}") for i in range(5))
        )
    assert times == [0.0] * 10


async def test_user_supplied_aiolimiter_is_accepted(mock: aioresponses) -> None:
    mock.get(SEARCH, callback=one_result, repeat=True)
    async with make_paced_client(
        FakeClock(), search_rate=aiolimiter.AsyncLimiter(100, 1), cache_ttl=0
    ) as client:
        await asyncio.gather(*(client.search(f"q{i}") for i in range(3)))
    assert sent(mock) == 3


async def test_a_refused_connection_does_not_spend_rate_budget(mock: aioresponses) -> None:
    clock = FakeClock()
    times: list[float] = []
    refused = aiohttp.ClientConnectorError(
        aiohttp.client_reqrep.ConnectionKey("tracker.test", 443, True, True, None, None, None),
        OSError(111, "Connection refused"),
    )
    mock.get(SEARCH, exception=refused)
    mock.get(SEARCH, callback=recording(clock, times), repeat=True)
    async with make_paced_client(clock, search_rate=(1, 60.0), cache_ttl=0) as client:
        await client.search("x")
    # Only the backoff delay, not a 60 s window: the refused attempt reached no server.
    assert len(times) == 1
    assert times[0] < 5.0


async def test_a_429_pauses_every_caller_of_the_endpoint(mock: aioresponses) -> None:
    clock = FakeClock()
    times: list[float] = []
    mock.get(SEARCH, status=429, headers={"Retry-After": "20"})
    mock.get(SEARCH, callback=recording(clock, times), repeat=True)
    async with make_paced_client(clock, search_rate=(10, 1.0), cache_ttl=0) as client:
        first = asyncio.create_task(client.search("first"))
        await asyncio.sleep(0)
        others = [asyncio.create_task(client.search(f"q{i}")) for i in range(9)]
        await asyncio.gather(first, *others)
        assert client.stats.rate_limited == 1
    # The nine others were held back until the pause ended, even those queued before the 429.
    assert len(times) == 10
    late = [t for t in times if t >= 20.0]
    assert len(late) >= 9


# -- the sandbox on 127.0.0.1, in both profiles ------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize("mode", ["sliding", "fixed"])
async def test_zero_429s_at_the_configured_rate_and_near_minimum_time(
    mode: Literal["sliding", "fixed"],
) -> None:
    n, period = 5, 1.0
    limits = {"search": RateLimit(n, period)}
    config = SandboxConfig(key_limits=limits, ip_limits=limits, rate_limit_mode=mode)
    async with SandboxServer(config) as server:
        async with tracker_client(server, search_rate=(n, period), cache_ttl=0, max_retries=0) as c:
            loop = asyncio.get_running_loop()
            start = loop.time()
            await asyncio.gather(*(c.search(f"query {i}") for i in range(4 * n)))
            elapsed = loop.time() - start
            stats = c.stats
        assert server.throttled_total == 0
    assert stats.rate_limited == 0
    assert stats.endpoints["search"].requests == 4 * n
    # 4N requests: a burst of N, then three more windows. The upper bound catches a limiter
    # that waits a window too many; a tighter one only measures how loaded the machine is.
    minimum = 3 * period
    assert minimum <= elapsed < minimum + 0.8 * period


@pytest.mark.integration
async def test_leaky_bucket_alone_trips_a_strict_server() -> None:
    # The contrast that justifies the window limiter: aiolimiter admits ~2N in the first T.
    import aiolimiter

    n, period = 5, 1.0
    limits = {"search": RateLimit(n, period)}
    config = SandboxConfig(key_limits=limits, ip_limits=limits)
    async with SandboxServer(config) as server:
        bucket = aiolimiter.AsyncLimiter(n, period)
        async with tracker_client(server, search_rate=bucket, cache_ttl=0, max_retries=0) as c:
            outcomes = await asyncio.gather(
                *(c.search(f"q {i}") for i in range(2 * n)), return_exceptions=True
            )
    assert any(isinstance(o, la.RateLimitError) for o in outcomes)


@pytest.mark.integration
async def test_a_server_429_is_waited_out_and_retried(tracker: SandboxServer) -> None:
    tracker.faults.add(Fault.rate_limited(retry_after=1), endpoint="search")
    async with tracker_client(tracker, search_rate=(5, 1.0)) as client:
        results = await client.search("amelie")
        assert client.stats.rate_limited == 1
        assert client.stats.retries == 1
    assert isinstance(results, list)


# -- the network faked at the HTTP boundary ----------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 520, 521, 522, 524])
async def test_5xx_and_cloudflare_52x_are_server_errors_retried_then_raised(
    fake_clock: FakeClock, mock: aioresponses, status: int
) -> None:
    mock.get(
        SEARCH,
        status=status,
        body="<html><head><title>Web server is down</title></head></html>",
        content_type="text/html",
        repeat=True,
    )
    async with make_client(fake_clock, max_retries=2) as client:
        with pytest.raises(la.ServerError) as info:
            await client.search("x")
        assert client.stats.endpoints["search"].retries == 2
    assert info.value.status == status
    assert "Web server is down" in str(info.value)
    assert sent(mock) == 3


async def test_connection_refused_is_retried_then_a_connect_error(
    fake_clock: FakeClock, mock: aioresponses
) -> None:
    err = aiohttp.ClientConnectorError(
        aiohttp.client_reqrep.ConnectionKey("tracker.test", 443, True, True, None, None, None),
        OSError(111, "Connection refused"),
    )
    mock.get(SEARCH, exception=err, repeat=True)
    async with make_client(fake_clock, max_retries=1) as client:
        with pytest.raises(la.ConnectError, match="Connection refused") as info:
            await client.search("x")
    assert isinstance(info.value, la.TransportError)
    assert info.value.__cause__ is None
    assert sent(mock) == 2


async def test_get_retries_transient_failures_then_succeeds(
    fake_clock: FakeClock, mock: aioresponses
) -> None:
    mock.get(SEARCH, status=503)
    mock.get(SEARCH, exception=aiohttp.ServerDisconnectedError())
    mock.get(SEARCH, payload=[torrent_json(0)])
    async with make_client(fake_clock, max_retries=3) as client:
        start = fake_clock.now()
        assert len(await client.search("x")) == 1
        stats = client.stats.endpoints["search"]
    assert stats.requests == 3
    assert stats.retries == 2
    # Exponential backoff: two waits, the second drawn from a larger range than the first.
    assert 0.25 <= fake_clock.now() - start <= 0.5 + 1.0


@pytest.mark.parametrize("name", ["search", "upload"])
async def test_a_close_during_a_retry_wait_ends_the_call_with_client_state_error(
    mock: aioresponses, name: str
) -> None:
    # The wait between two attempts is inside the send: the close cancels it, and the caller
    # sees the SDK's error (an upload's outcome unknown), never a bare CancelledError.
    clock = FakeClock(auto_advance=False)
    mock.get(META, payload=META_JSON)
    mock.get(SEARCH, status=503, repeat=True)
    mock.post(UPLOAD, status=429, headers={"Retry-After": "60"}, repeat=True)
    async with make_client(clock, max_retries=3, upload_rate=None) as client:
        call: asyncio.Future[Any]
        if name == "search":
            call = asyncio.ensure_future(client.search("x"))
        else:
            await client.meta()  # the upload's categories, before the clock is held
            call = asyncio.ensure_future(
                client.upload(title="T", category="films", torrent=make_torrent())
            )
        for _ in range(10_000):  # real time: the key budget's store answers from a thread
            if clock.sleepers:
                break
            await asyncio.sleep(0.001)
        assert clock.sleepers == 1  # the retry's wait (no limiter: nothing else sleeps)
    with pytest.raises(la.ClientStateError, match="closed while this request") as info:
        await asyncio.wait_for(call, 10)
    assert info.value.outcome_unknown == (name == "upload")
    assert sent(mock) == (1 if name == "search" else 2)


async def test_429_honours_retry_after_seconds(fake_clock: FakeClock, mock: aioresponses) -> None:
    mock.get(SEARCH, status=429, payload={"error": "slow down"}, headers={"Retry-After": "7"})
    mock.get(SEARCH, payload=[])
    async with make_client(fake_clock) as client:
        start = fake_clock.now()
        await client.search("x")
        assert client.stats.endpoints["search"].rate_limited == 1
    assert fake_clock.now() - start == pytest.approx(7.0)


async def test_429_with_http_date_retry_after(fake_clock: FakeClock, mock: aioresponses) -> None:
    mock.get(SEARCH, status=429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    mock.get(SEARCH, payload=[])
    async with make_client(fake_clock) as client:
        await client.search("x")
    assert sent(mock) == 2


async def test_an_http_date_retry_after_is_read_on_the_clients_wall_clock(
    fake_clock: FakeClock, mock: aioresponses
) -> None:
    # FakeClock's wall starts at 2026-01-01T00:00:00Z: the date is 9 s after it.
    mock.get(SEARCH, status=429, headers={"Retry-After": "Thu, 01 Jan 2026 00:00:09 GMT"})
    mock.get(SEARCH, payload=[])
    async with make_client(fake_clock) as client:
        start = fake_clock.now()
        await client.search("x")
    assert fake_clock.now() - start == pytest.approx(9.0)


async def test_429_longer_than_max_retry_wait_raises_at_once(
    fake_clock: FakeClock, mock: aioresponses
) -> None:
    mock.get(SEARCH, status=429, headers={"Retry-After": "3600"}, repeat=True)
    async with make_client(fake_clock, max_retry_wait=60) as client:
        with pytest.raises(la.RateLimitError) as info:
            await client.search("x")
    assert info.value.retry_after == 3600
    assert "3600" in str(info.value)
    assert sent(mock) == 1


async def test_429_exhausting_retries_raises_rate_limit_error(
    fake_clock: FakeClock, mock: aioresponses
) -> None:
    mock.get(SEARCH, status=429, repeat=True)
    async with make_client(fake_clock, max_retries=2) as client:
        with pytest.raises(la.RateLimitError) as info:
            await client.search("x")
        assert client.stats.rate_limited == 3
    assert info.value.retry_after is None


async def test_a_long_retry_after_never_stalls_later_calls(
    fake_clock: FakeClock, mock: aioresponses
) -> None:
    mock.get(SEARCH, status=429, headers={"Retry-After": "86400"})
    mock.get(SEARCH, payload=[], repeat=True)
    # The endpoint limiter's share of the pause is capped (the key budget's is not: it pauses
    # the whole key until Retry-After, see test_keybudget.py).
    async with make_client(
        fake_clock, search_rate=(5, 1.0), max_retry_wait=10, key_rate=None
    ) as client:
        with pytest.raises(la.RateLimitError):
            await client.search("x")
        start = fake_clock.now()
        await client.search("y")
    assert fake_clock.now() - start <= 10.0 + 1e-6


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        *[({"status": status}, la.ServerError) for status in (500, 502, 521)],
        *[
            ({"exception": exc}, la.TransportError)
            for exc in (
                TimeoutError(),
                aiohttp.ServerDisconnectedError(),
                aiohttp.ClientPayloadError("cut"),
            )
        ],
    ],
    ids=["500", "502", "521", "timeout", "disconnected", "payload"],
)
async def test_upload_failure_after_sending_is_not_retried_and_says_outcome_unknown(
    client: LaCaleClient, mock: aioresponses, answer: dict[str, Any], error: type[la.LaCaleError]
) -> None:
    mock.get(META, payload=META_JSON)
    mock.post(UPLOAD, repeat=True, **answer)
    with pytest.raises(error, match="may or may not") as info:
        await client.upload(title="T", category="films", torrent=make_torrent())
    assert info.value.outcome_unknown
    assert len([c for c in calls(mock) if c[0] == "POST"]) == 1


async def test_upload_is_retried_on_429_and_on_connection_failure(
    client: LaCaleClient, mock: aioresponses
) -> None:
    refused = aiohttp.ClientConnectorError(
        aiohttp.client_reqrep.ConnectionKey("tracker.test", 443, True, True, None, None, None),
        OSError(111, "Connection refused"),
    )
    mock.get(META, payload=META_JSON)
    mock.post(UPLOAD, status=429, headers={"Retry-After": "1"})
    mock.post(UPLOAD, exception=refused)
    mock.post(UPLOAD, payload={"success": True, "id": "1", "slug": "s", "link": "l"})
    result = await client.upload(title="T", category="films", torrent=make_torrent())
    assert result.id == "1"
    assert len([c for c in calls(mock) if c[0] == "POST"]) == 3


async def test_a_connect_timeout_is_a_connect_error_and_upload_retries(
    client: LaCaleClient, mock: aioresponses
) -> None:
    mock.get(META, payload=META_JSON)
    mock.post(UPLOAD, exception=aiohttp.ConnectionTimeoutError("Connection timeout to host x"))
    mock.post(UPLOAD, payload={"success": True, "id": "1", "slug": "s", "link": "l"})
    result = await client.upload(title="T", category="films", torrent=make_torrent())
    assert result.id == "1"
    assert len([c for c in calls(mock) if c[0] == "POST"]) == 2


@pytest.mark.parametrize("status", [0, 101, 199])
async def test_a_final_answer_below_200_is_refused_not_returned(
    fake_clock: FakeClock, mock: aioresponses, status: int
) -> None:
    # Only 2xx is a success: a 0 or 1xx final status is no answer to decode (nor to cache).
    mock.get(SEARCH, status=status, payload=[torrent_json(0)], repeat=True)
    async with make_client(fake_clock, cache_ttl=60) as client:
        for _ in range(2):
            with pytest.raises(la.APIError, match=f"HTTP {status}") as info:
                await client.search("x")
            assert info.value.status == status
    assert sent(mock) == 2
