"""The key-wide budget seen through the client, on a fake clock, the network faked (aioresponses).

Rules under test: every attempt that reaches the network spends one unit (retries, uploads,
downloads), a refused connection none; burst windows are waited out, quota windows raise (or
wait up to max_quota_wait); an unexpected 429 pauses the whole key, persisted; the budget
survives a restart (fake wall clock) and is shared by every client of the key.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import re
from collections.abc import Iterator
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses
from conftest import API_KEY, BASE, META_JSON, info_hash_of, make_torrent

import lacale_async as la
from lacale_async import FakeClock, LaCaleClient

SEARCH = re.compile(r"^https://tracker\.test/api/external(\?.*)?$")
META = re.compile(r"^https://tracker\.test/api/external/meta(\?.*)?$")
UPLOAD = re.compile(r"^https://tracker\.test/api/external/upload(\?.*)?$")
DOWNLOAD = re.compile(r"^https://tracker\.test/api/torrents/download/.*$")
DAY = 86_400.0


@pytest.fixture
def mock() -> Iterator[aioresponses]:
    with aioresponses() as m:
        yield m


def sent(m: aioresponses) -> int:
    return sum(len(v) for v in (m.requests or {}).values())


def make_client(clock: FakeClock, **kwargs: Any) -> LaCaleClient:
    options: dict[str, Any] = {
        "base_url": BASE,
        "search_rate": None,
        "download_rate": None,
        "meta_rate": None,
        "upload_rate": None,
        "cache_ttl": 0,
        "clock": clock,
    }
    options.update(kwargs)
    return LaCaleClient(API_KEY, **options)


async def timed_searches(client: LaCaleClient, clock: FakeClock, count: int) -> list[float]:
    times: list[float] = []

    async def one(i: int) -> None:
        await client.search(f"q{i}")
        times.append(clock.now())

    await asyncio.gather(*(one(i) for i in range(count)))
    return sorted(times)


# -- windows and policy ---------------------------------------------------------------------


async def test_burst_windows_are_waited_out_and_quota_windows_raise(mock: aioresponses) -> None:
    mock.get(SEARCH, payload=[], repeat=True)
    clock = FakeClock()
    async with make_client(clock, key_rate=[(3, 10.0), (5, 1000.0)], quota_store=None) as client:
        times = await timed_searches(client, clock, 5)
        assert times[:3] == [0.0, 0.0, 0.0]
        assert all(10.0 < t < 10.5 for t in times[3:])  # the 10 s burst window: waited out
        started = clock.now()
        with pytest.raises(la.QuotaExceededError) as info:
            await client.search("sixth")
        assert clock.now() == started  # refused at once, nothing waited
    error = info.value
    assert isinstance(error, la.RateLimitError)
    assert sent(mock) == 5
    assert error.window == (5, 1000.0)
    assert error.used == 5
    assert error.retry_after is not None
    assert 1000.0 - 10.5 < error.retry_after <= 1000.0 + 0.25
    assert error.retry_at.tzinfo is timezone.utc
    assert "5 of 5 requests" in str(error)
    assert "nothing was sent" in str(error)
    assert client.stats.key_budget.refused == 1
    assert client.stats.key_budget.requests == 5


async def test_on_quota_wait_waits_up_to_max_quota_wait(mock: aioresponses) -> None:
    mock.get(SEARCH, payload=[], repeat=True)
    clock = FakeClock()
    options: dict[str, Any] = {"key_rate": (2, 300.0), "on_quota": "wait", "quota_store": None}
    async with make_client(clock, max_quota_wait=400, **options) as client:
        times = await timed_searches(client, clock, 3)
    assert times[2] >= 300.0
    clock = FakeClock()
    async with make_client(clock, max_quota_wait=100, **options) as client:
        await timed_searches(client, clock, 2)
        with pytest.raises(la.QuotaExceededError, match="more than max_quota_wait"):
            await client.search("third")
        assert clock.now() == 0.0


async def test_every_attempt_spends_a_unit_and_a_refused_connection_none(
    mock: aioresponses,
) -> None:
    mock.get(SEARCH, status=503)
    mock.get(SEARCH, payload=[])
    err = aiohttp.ClientConnectorError(
        aiohttp.client_reqrep.ConnectionKey("tracker.test", 443, True, True, None, None, None),
        OSError(111, "Connection refused"),
    )
    mock.get(SEARCH, exception=err)
    mock.get(SEARCH, payload=[])
    torrent = make_torrent()
    mock.get(DOWNLOAD, body=torrent, content_type="application/x-bittorrent")
    mock.get(META, payload=META_JSON)
    mock.post(UPLOAD, payload={"success": True, "id": "1", "slug": "s", "link": "l"})
    clock = FakeClock()
    async with make_client(clock, key_rate=(50, 60.0), quota_store=None) as client:
        await client.search("retried")  # 503 then 200: two units
        await client.search("refused")  # no connection (no unit), then 200
        await client.download(info_hash_of(torrent))
        await client.upload(title="T", category="films", torrent=make_torrent("Other"))
        quota = await client.quota()
    assert sent(mock) == 7
    assert client.stats.requests == 7
    assert client.stats.key_budget.requests == 6  # the refused connection gave its unit back
    assert quota.windows[0].used == 6
    assert quota.remaining == 44


async def test_a_cache_hit_never_touches_the_budget(mock: aioresponses) -> None:
    mock.get(SEARCH, payload=[], repeat=True)
    clock = FakeClock()
    async with make_client(clock, cache_ttl=60, key_rate=(1, DAY), quota_store=None) as client:
        for _ in range(5):
            await client.search("same")
        assert client.stats.cache_hits == 4
        assert client.stats.key_budget.requests == 1
        assert (await client.quota()).remaining == 0


async def test_clients_of_one_key_share_the_budget_and_other_keys_do_not(
    mock: aioresponses,
) -> None:
    mock.get(SEARCH, payload=[], repeat=True)
    clock = FakeClock()
    options: dict[str, Any] = {"key_rate": (2, DAY), "quota_store": None}
    async with make_client(clock, **options) as a, make_client(clock, **options) as b:
        await a.search("1")
        await b.search("2")
        with pytest.raises(la.QuotaExceededError):
            await a.search("3")
        other = LaCaleClient("another-key-0123456789", base_url=BASE, clock=clock, **options)
        async with other:
            await other.search("4")


async def test_a_memory_budget_outlives_its_client_within_the_process(
    mock: aioresponses,
) -> None:
    # Regression: with quota_store=None, a client opened after the first one closed started
    # with the whole budget again.
    mock.get(SEARCH, payload=[], repeat=True)
    clock = FakeClock()
    options: dict[str, Any] = {"key_rate": (2, DAY), "quota_store": None}
    async with make_client(clock, **options) as first:
        await first.search("1")
        await first.search("2")
    del first
    gc.collect()  # what a long-running program does sooner or later
    async with make_client(clock, **options) as second:
        assert (await second.quota()).remaining == 0
        with pytest.raises(la.QuotaExceededError):
            await second.search("3")


async def test_no_key_rate_means_no_budget(mock: aioresponses) -> None:
    mock.get(SEARCH, payload=[], repeat=True)
    clock = FakeClock()
    async with make_client(clock, key_rate=None) as client:
        await timed_searches(client, clock, 300)
        quota = await client.quota()
    assert quota.remaining is None
    assert quota.windows == ()
    assert client.stats.key_budget.requests == 0


async def test_cancelled_waiters_take_no_unit(mock: aioresponses) -> None:
    mock.get(SEARCH, payload=[], repeat=True)
    clock = FakeClock()
    async with make_client(clock, key_rate=(1, 10.0), quota_store=None) as client:
        await client.search("first")
        waiting = [asyncio.ensure_future(client.search(f"w{i}")) for i in range(3)]
        await asyncio.sleep(0)
        waiting[0].cancel()
        waiting[1].cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
        assert waiting[2].result() == []
        assert clock.now() == pytest.approx(10.2)  # the survivor waited one window only
    assert client.stats.key_budget.requests == 2


# -- the unexpected 429 ---------------------------------------------------------------------


async def test_an_unexpected_429_pauses_the_key_warns_once_and_is_counted(
    mock: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    mock.get(SEARCH, status=429, headers={"Retry-After": "30"})
    mock.get(SEARCH, payload=[], repeat=True)
    mock.get(META, payload=META_JSON)
    clock = FakeClock()
    caplog.set_level(logging.WARNING, logger="lacale_async")
    async with make_client(clock, key_rate=(60, 60.0), quota_store=None) as client:
        meta = asyncio.ensure_future(client.meta())  # another endpoint, queued behind the 429
        await client.search("a")
        assert clock.now() == pytest.approx(30.0)
        await meta
        assert meta.done()
        budget = client._require_open().budget
        assert budget is not None
        # A second 429 of the same episode (the pause still running) says nothing more.
        await budget.unexpected_429(30.0, "search")
        await budget.unexpected_429(30.0, "search")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "smaller than key_rate" in warnings[0].getMessage()
    assert API_KEY not in warnings[0].getMessage()
    assert client.stats.key_budget.unexpected_429 == 3
    assert sent(mock) == 3


async def test_a_long_429_pause_refuses_every_endpoint_and_survives_a_restart(
    mock: aioresponses, tmp_path: Path
) -> None:
    store = tmp_path / "q.sqlite3"
    mock.get(SEARCH, status=429, headers={"Retry-After": "3600"})
    clock = FakeClock()
    async with make_client(clock, quota_store=store) as client:
        with pytest.raises(la.RateLimitError) as first:
            await client.search("x")
        assert not isinstance(first.value, la.QuotaExceededError)
        with pytest.raises(la.QuotaExceededError, match="paused") as info:
            await client.meta()
        assert info.value.window is None
        assert info.value.retry_after == pytest.approx(3600.0)
    restarted = FakeClock(wall_start=clock.wall() + 60)
    async with make_client(restarted, quota_store=store) as client:
        with pytest.raises(la.QuotaExceededError) as info:
            await client.search("y")
        assert info.value.retry_after == pytest.approx(3540.0)
        assert (await client.quota()).paused_until is not None
    assert sent(mock) == 1


async def test_a_long_429_pause_refuses_the_same_endpoint_at_once(mock: aioresponses) -> None:
    # The key budget's pause is what holds the key back: the endpoint's limiter does not wait
    # out max_retry_wait of it first, only for the budget to refuse afterwards.
    mock.get(SEARCH, status=429, headers={"Retry-After": "86400"})
    clock = FakeClock()
    async with make_client(
        clock, quota_store=None, max_retry_wait=120.0, search_rate=(5, 1.0)
    ) as client:
        with pytest.raises(la.RateLimitError):
            await client.search("x")
        start = clock.now()
        with pytest.raises(la.QuotaExceededError, match="paused") as info:
            await client.search("y")
        assert clock.now() == start
        assert info.value.retry_after == pytest.approx(86_400.0)
    assert sent(mock) == 1


# -- persistence ----------------------------------------------------------------------------


async def test_the_budget_survives_a_restart_on_the_wall_clock(
    mock: aioresponses, tmp_path: Path
) -> None:
    mock.get(SEARCH, payload=[], repeat=True)
    store = tmp_path / "q.sqlite3"
    first = FakeClock()
    async with make_client(first, key_rate=(5, DAY), quota_store=store) as client:
        await timed_searches(client, first, 5)
    # Restarted an hour later (a new process: new monotonic clock, wall clock moved on).
    later = FakeClock(wall_start=first.wall() + 3600)
    async with make_client(later, key_rate=(5, DAY), quota_store=store) as client:
        quota = await client.quota()
        assert quota.remaining == 0
        assert quota.store == str(store)
        assert quota.windows[0].used == 5
        with pytest.raises(la.QuotaExceededError) as info:
            await client.search("too many")
        assert info.value.retry_after == pytest.approx(DAY - 3600, abs=0.3)
    next_day = FakeClock(wall_start=first.wall() + DAY + 1)
    async with make_client(next_day, key_rate=(5, DAY), quota_store=store) as client:
        assert (await client.quota()).remaining == 5
        await client.search("fresh")
    assert sent(mock) == 6


async def test_quota_reports_every_window_with_aware_datetimes(mock: aioresponses) -> None:
    mock.get(SEARCH, payload=[], repeat=True)
    clock = FakeClock()
    async with make_client(clock, key_rate=[(2, 60.0), (10, DAY)], quota_store=None) as client:
        empty = await client.quota()
        await timed_searches(client, clock, 2)
        quota = await client.quota()
    assert empty.remaining == 2
    assert empty.windows[0].next_free_at is None
    assert empty.next_free_in == 0.0
    assert quota.remaining == 0
    minute, day = quota.windows
    assert (minute.calls, minute.period, minute.used, minute.remaining) == (2, 60.0, 2, 0)
    assert (day.used, day.remaining) == (2, 8)
    assert minute.next_free_at is not None
    assert minute.next_free_at - quota.at == timedelta(seconds=60.25)
    assert quota.next_free_in == pytest.approx(60.25)
    assert quota.next_free_at == minute.next_free_at
    assert quota.at.tzinfo is timezone.utc


# -- search_many ----------------------------------------------------------------------------


async def test_search_many_runs_what_fits_and_reports_the_rest(mock: aioresponses) -> None:
    mock.get(SEARCH, payload=[], repeat=True)
    clock = FakeClock()
    async with make_client(clock, cache_ttl=60, key_rate=(3, DAY), quota_store=None) as client:
        await client.search("cached")  # spends one unit; answered from the cache below
        queries = ["cached", "a", "A ", "b", "c", "d"]  # "a" and "A " are one request
        outcomes = [o async for o in client.search_many(queries, concurrency=2)]
    by_query = {o.query.query: o for o in outcomes}
    assert len(outcomes) == 6
    assert [q for q in queries if by_query[q].ok] == ["cached", "a", "A ", "b"]
    for q in ("c", "d"):
        error = by_query[q].error
        assert isinstance(error, la.QuotaExceededError)
        assert "not run" in str(error)
        assert error.retry_at > clock_start_wall(clock)
    assert sent(mock) == 3


async def test_search_many_with_no_room_left_says_none_runs(mock: aioresponses) -> None:
    mock.get(SEARCH, payload=[], repeat=True)
    async with make_client(FakeClock(), key_rate=(1, DAY), quota_store=None) as client:
        await client.search("spent")
        outcomes = [o async for o in client.search_many(["a", "b"])]
    messages = {str(o.error) for o in outcomes}
    assert len(messages) == 1
    message = messages.pop()
    assert "allows 0 more now, so none of it runs" in message
    assert "first 0" not in message
    assert sent(mock) == 1


def clock_start_wall(clock: FakeClock) -> Any:
    from lacale_async._quota import utc

    return utc(clock.wall() - clock.now())


# -- options --------------------------------------------------------------------------------


def test_lacale_key_rate_sets_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LACALE_KEY_RATE", "10/60, 100/86400")
    client = LaCaleClient(API_KEY, base_url=BASE)
    assert client._config.key_rate == [(10, 60.0), (100, DAY)]
    monkeypatch.setenv("LACALE_KEY_RATE", "off")
    assert LaCaleClient(API_KEY, base_url=BASE)._config.key_rate is None
    # An explicit key_rate wins over the variable.
    assert LaCaleClient(API_KEY, base_url=BASE, key_rate=(1, 1.0))._config.key_rate == [(1, 1.0)]
    for bad in ("10", "ten/60", "0/60", "10/-1"):
        monkeypatch.setenv("LACALE_KEY_RATE", bad)
        with pytest.raises(la.ConfigurationError, match="LACALE_KEY_RATE"):
            LaCaleClient(API_KEY, base_url=BASE)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"key_rate": (0, 60.0)}, "key_rate"),
        ({"key_rate": "60/60"}, "key_rate"),
        ({"on_quota": "sleep"}, "on_quota"),
        ({"max_quota_wait": -1}, "max_quota_wait"),
        ({"quota_store": 42}, "quota_store"),
        ({"quota_store": ""}, "quota_store"),
    ],
)
def test_bad_quota_options_are_configuration_errors(options: dict[str, Any], match: str) -> None:
    with pytest.raises(la.ConfigurationError, match=match):
        LaCaleClient(API_KEY, base_url=BASE, **options)


def test_quota_store_auto_follows_lacale_quota_store(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LACALE_QUOTA_STORE", "memory")
    assert LaCaleClient(API_KEY, base_url=BASE)._config.quota_store is None
    monkeypatch.setenv("LACALE_QUOTA_STORE", str(tmp_path / "x.db"))
    assert LaCaleClient(API_KEY, base_url=BASE)._config.quota_store == tmp_path / "x.db"
    monkeypatch.delenv("LACALE_QUOTA_STORE")
    monkeypatch.delenv("LACALE_CACHE_DIR")
    auto = LaCaleClient(API_KEY, base_url=BASE)._config.quota_store
    assert auto is not None
    assert auto.name == "quota.sqlite3"
    assert "lacale-async" in str(auto)


def test_quota_store_auto_lives_in_lacale_cache_dir_like_the_cli_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("LACALE_QUOTA_STORE")
    monkeypatch.setenv("LACALE_CACHE_DIR", str(tmp_path))
    assert LaCaleClient(API_KEY, base_url=BASE)._config.quota_store == tmp_path / "quota.sqlite3"
    # LACALE_QUOTA_STORE still names the store file itself.
    monkeypatch.setenv("LACALE_QUOTA_STORE", str(tmp_path / "elsewhere.db"))
    assert LaCaleClient(API_KEY, base_url=BASE)._config.quota_store == tmp_path / "elsewhere.db"
