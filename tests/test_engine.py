"""The engine's cached-call path: one cache entry and one request per search, TTLs,
cache modes, errors never cached, cancellation of shared work (``_engine``)."""

from __future__ import annotations

import asyncio
import contextlib
import traceback
from collections.abc import Iterator
from typing import Any

import anyio
import msgspec
import pytest
from _live_samples import live_item, make_jwt
from _loopback import Server, client_for
from _mocked import META, SEARCH, gated, make_paced_client, one_result, sent
from aiohttp import web
from aioresponses import CallbackResult, aioresponses
from conftest import API_KEY, META_JSON, make_torrent, torrent_json
from yarl import URL

import lacale_async as la
from lacale_async import FakeClock
from lacale_async._models import decode_search
from lacale_async._transport import Transport

pytest_plugins = ["_mocked", "_loopback"]


# -- the network faked, time on a fake clock ---------------------------------------------


async def test_a_thousand_concurrent_identical_searches_send_one_request(
    mock: aioresponses,
) -> None:
    gate = asyncio.Event()
    mock.get(SEARCH, callback=gated(gate), repeat=True)
    clock = FakeClock()
    async with make_paced_client(clock) as client:
        tasks = [asyncio.create_task(client.search("x")) for _ in range(1000)]
        await asyncio.sleep(0)
        gate.set()
        results = await asyncio.gather(*tasks)
        stats = client.stats
    assert sent(mock) == 1
    assert all(r == results[0] for r in results)
    assert stats.coalesced == 999
    assert stats.endpoints["search"].requests == 1


async def test_concurrent_meta_calls_share_one_request_and_count_as_coalesced(
    mock: aioresponses,
) -> None:
    # The single-flight counts the shared answers (the engine hands its coroutine on).
    gate = asyncio.Event()

    async def slow(url: URL, **kwargs: Any) -> CallbackResult:
        await gate.wait()
        return CallbackResult(payload=META_JSON)

    mock.get(META, callback=slow, repeat=True)
    async with make_paced_client(FakeClock()) as client:
        tasks = [asyncio.create_task(client.meta()) for _ in range(3)]
        await asyncio.sleep(0)
        gate.set()
        first, *others = await asyncio.gather(*tasks)
        stats = client.stats
    assert sent(mock) == 1
    assert all(meta == first for meta in others)
    assert (stats.coalesced, stats.cache_misses, stats.cache_hits) == (2, 3, 0)


async def test_normalised_queries_share_one_cache_entry(mock: aioresponses) -> None:
    mock.get(SEARCH, callback=one_result, repeat=True)
    async with make_paced_client(FakeClock()) as client:
        await client.search("Amélie", categories=["series", "films"])
        await client.search("  amelie ", categories=("films", "series", "films"))
        await client.search("AMÉLIE", categories=["films", "series"])
        assert client.stats.cache_hits == 2
        await client.search("amelie", categories=["films"])
    assert sent(mock) == 2


async def test_cache_expires_after_ttl(mock: aioresponses) -> None:
    mock.get(SEARCH, callback=one_result, repeat=True)
    clock = FakeClock()
    async with make_paced_client(clock, cache_ttl=30) as client:
        await client.search("x")
        clock.advance(29.5)
        await client.search("x")
        assert sent(mock) == 1
        clock.advance(1)
        await client.search("x")
    assert sent(mock) == 2


async def test_server_max_age_shortens_the_ttl(mock: aioresponses) -> None:
    mock.get(
        SEARCH,
        payload=[torrent_json(0)],
        headers={"Cache-Control": "max-age=30", "Age": "25"},
        repeat=True,
    )
    clock = FakeClock()
    async with make_paced_client(clock) as client:
        await client.search("x")
        clock.advance(4)
        await client.search("x")
        assert sent(mock) == 1
        clock.advance(2)
        await client.search("x")
    assert sent(mock) == 2


async def test_no_store_is_not_cached(mock: aioresponses) -> None:
    mock.get(SEARCH, payload=[], headers={"Cache-Control": "no-store"}, repeat=True)
    async with make_paced_client(FakeClock()) as client:
        await client.search("x")
        await client.search("x")
    assert sent(mock) == 2


async def test_cache_ttl_zero_disables_the_cache(mock: aioresponses) -> None:
    mock.get(SEARCH, callback=one_result, repeat=True)
    async with make_paced_client(FakeClock(), cache_ttl=0) as client:
        await client.search("x")
        await client.search("x")
    assert sent(mock) == 2


async def test_bypass_and_refresh(mock: aioresponses) -> None:
    mock.get(SEARCH, payload=[torrent_json(0)])
    mock.get(SEARCH, payload=[torrent_json(0), torrent_json(1)])
    mock.get(SEARCH, payload=[torrent_json(0), torrent_json(1), torrent_json(2)])
    async with make_paced_client(FakeClock()) as client:
        assert len(await client.search("x")) == 1
        assert len(await client.search("x", cache="bypass")) == 2
        assert len(await client.search("x")) == 1
        assert len(await client.search("x", cache="refresh")) == 3
        assert len(await client.search("x")) == 3
    assert sent(mock) == 3


async def test_errors_are_never_cached(mock: aioresponses) -> None:
    mock.get(SEARCH, status=500)
    mock.get(SEARCH, payload=[torrent_json(0)])
    async with make_paced_client(FakeClock(), max_retries=0) as client:
        with pytest.raises(la.ServerError):
            await client.search("x")
        assert len(await client.search("x")) == 1
    assert sent(mock) == 2


async def test_an_error_reaches_every_coalesced_waiter(mock: aioresponses) -> None:
    gate = asyncio.Event()

    async def failing(url: URL, **kwargs: Any) -> CallbackResult:
        await gate.wait()
        return CallbackResult(status=403, payload={"error": "Clé invalide"})

    mock.get(SEARCH, callback=failing, repeat=True)
    async with make_paced_client(FakeClock()) as client:
        tasks = [asyncio.create_task(client.search("x")) for _ in range(20)]
        await asyncio.sleep(0)
        gate.set()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(o, la.PermissionDeniedError) for o in outcomes)
    assert sent(mock) == 1


async def test_cancelling_one_waiter_does_not_cancel_the_shared_request(
    mock: aioresponses,
) -> None:
    gate, arrived = asyncio.Event(), asyncio.Event()
    mock.get(SEARCH, callback=gated(gate, arrived), repeat=True)
    async with make_paced_client(FakeClock()) as client:
        first = asyncio.create_task(client.search("x"))
        second = asyncio.create_task(client.search("x"))
        with anyio.fail_after(10):
            await arrived.wait()  # the request is in flight, the second caller waits on it
        second.cancel()
        await asyncio.sleep(0)
        gate.set()
        assert len(await first) == 1
        with pytest.raises(asyncio.CancelledError):
            await second
        assert len(await client.search("x")) == 1  # cached
    assert sent(mock) == 1


async def test_cancelling_the_caller_that_sent_hands_the_search_to_the_others(
    mock: aioresponses,
) -> None:
    # The first caller sends the request in its own task: cancelling it cancels that request,
    # and one of the callers waiting on it sends the search again; none sees the cancellation.
    gate, arrived = asyncio.Event(), asyncio.Event()
    mock.get(SEARCH, callback=gated(gate, arrived), repeat=True)
    async with make_paced_client(FakeClock()) as client:
        first = asyncio.create_task(client.search("x"))
        others = [asyncio.create_task(client.search("x")) for _ in range(3)]
        # Cancel once the first request is on the (fake) wire, not after a guessed delay: the
        # key budget's store answers from a worker thread first, which takes real time, and
        # a cancellation before the send made this test fail now and then.
        with anyio.fail_after(10):
            await arrived.wait()
        assert sent(mock) == 1
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        gate.set()
        assert [len(r) for r in await asyncio.gather(*others)] == [1, 1, 1]
        # The answer of the second request was cached.
        assert len(await client.search("x")) == 1
        stats = client.stats
    assert sent(mock) == 2
    assert stats.coalesced == 2


async def test_the_lru_bound_holds(mock: aioresponses) -> None:
    mock.get(SEARCH, callback=one_result, repeat=True)
    async with make_paced_client(FakeClock(), cache_size=3) as client:
        for q in ("a", "b", "c", "d"):
            await client.search(q)
        await client.search("d")
        await client.search("b")
        assert sent(mock) == 4
        await client.search("a")
    assert sent(mock) == 5


async def test_two_keys_never_share_cache_entries(mock: aioresponses) -> None:
    mock.get(SEARCH, callback=one_result, repeat=True)
    clock = FakeClock()
    async with (
        make_paced_client(clock) as one,
        make_paced_client(clock, key="another-key-42") as two,
    ):
        await one.search("x")
        await two.search("x")
        await one.search("x")
    assert sent(mock) == 2


async def test_meta_is_single_flight(mock: aioresponses) -> None:
    mock.get(META, payload=META_JSON, repeat=True)
    async with make_paced_client(FakeClock()) as client:
        metas = await asyncio.gather(*(client.meta() for _ in range(50)))
    assert all(m == metas[0] for m in metas)
    assert sent(mock) == 1


async def test_meta_follows_the_same_cache_modes_as_search(mock: aioresponses) -> None:
    # One cached-call path for both: a bypass is a miss for meta too (it asks the server).
    mock.get(META, payload=META_JSON, repeat=True)
    async with make_paced_client(FakeClock()) as client:
        await client.meta()  # a miss, stored
        await client.meta()  # a hit
        await client.meta(cache="refresh")  # a miss, sent and stored
        await client.meta(cache="bypass")  # a miss, sent, not stored
        await client.meta()  # a hit: the refreshed answer
        stats = client.stats
    assert sent(mock) == 3
    assert (stats.cache_hits, stats.cache_misses) == (2, 3)


# -- the in-memory cache's clock and its ownership -----------------------------------------


class _Shared:
    """A backend of the user's own: one MemoryCache it shares, limiters from LocalBackend."""

    def __init__(self, clock: FakeClock) -> None:
        self.shared: la.MemoryCache[Any] = la.MemoryCache(clock=clock)
        self._local = la.LocalBackend()

    def limiter(self, *, scope: str, endpoint: str, rates: Any, clock: la.Clock) -> la.RateLimiter:
        return self._local.limiter(scope=scope, endpoint=endpoint, rates=rates, clock=clock)

    def cache(
        self, *, scope: str, namespace: str, max_entries: int, clock: la.Clock
    ) -> la.Cache[Any]:
        return self.shared

    async def aclose(self) -> None:
        return None


async def test_a_users_backend_keeps_its_cache_when_a_client_closes(mock: aioresponses) -> None:
    mock.get(SEARCH, callback=one_result, repeat=True)
    clock = FakeClock()
    backend = _Shared(clock)
    async with make_paced_client(clock, backend=backend) as client:
        await client.search("x")
    assert len(backend.shared) == 1
    async with make_paced_client(clock, backend=backend) as client:
        await client.search("x")  # answered by the shared cache
        assert client.stats.cache_hits == 1
    assert sent(mock) == 1
    await backend.shared.clear()


async def test_a_clock_of_the_users_own_is_read_on_every_hit(mock: aioresponses) -> None:
    mock.get(SEARCH, callback=one_result, repeat=True)

    class OwnClock:
        """A clock of the user's own: now() and sleep()."""

        def __init__(self) -> None:
            self.t = 0.0

        def now(self) -> float:
            return self.t

        async def sleep(self, seconds: float) -> None:
            self.t += max(0.0, seconds)
            await asyncio.sleep(0)

    clock = OwnClock()
    async with make_paced_client(clock, cache_ttl=30, quota_store=None) as client:  # type: ignore[arg-type]
        await client.search("x")
        clock.t = 29.5
        await client.search("x")
        assert client.stats.cache_hits == 1
        clock.t = 30.0
        await client.search("x")
        assert client.stats.cache_hits == 1
    assert sent(mock) == 2


class _CountingClock(FakeClock):
    """A fake clock that counts its readings."""

    __slots__ = ("readings",)

    def __init__(self) -> None:
        super().__init__(auto_advance=False)
        self.readings = 0

    def now(self) -> float:
        self.readings += 1
        return super().now()


async def test_every_hit_reads_the_clients_clock(mock: aioresponses) -> None:
    mock.get(SEARCH, callback=one_result, repeat=True)
    clock = _CountingClock()
    async with make_paced_client(clock, cache_ttl=30) as client:
        await client.search("x")
        before = clock.readings
        for _ in range(5):
            await client.search("x")
        assert client.stats.cache_hits == 5
        # One reading per hit: expiry never waits for a timer of the event loop.
        assert clock.readings == before + 5


@contextlib.contextmanager
def _searched_once(clock: FakeClock) -> Iterator[tuple[la.LaCaleClient, aioresponses, Any]]:
    """A client opened on a loop that is then left stopped, after one search ("x", 30 s TTL)."""
    loop = asyncio.new_event_loop()
    try:
        with aioresponses() as mock:
            mock.get(SEARCH, callback=one_result, repeat=True)
            client = make_paced_client(clock, cache_ttl=30)
            loop.run_until_complete(client.open())
            loop.run_until_complete(client.search("x"))
            yield client, mock, loop
            loop.run_until_complete(client.aclose())
    finally:
        loop.close()


def test_an_expired_entry_is_not_answered_when_a_stopped_loop_resumes() -> None:
    # A synchronous wrapper runs the loop once per call: between calls, nothing runs on it.
    clock = FakeClock(auto_advance=False)
    with _searched_once(clock) as (client, mock, loop):
        clock.advance(30)
        loop.run_until_complete(client.search("x"))
        assert (sent(mock), client.stats.cache_hits) == (2, 0)


def test_an_expired_entry_is_not_answered_from_another_loop() -> None:
    clock = FakeClock(auto_advance=False)
    with _searched_once(clock) as (client, _, _):
        clock.advance(30)
        with pytest.raises(la.ClientStateError, match="another event loop"):
            asyncio.run(client.search("x"))


# -- a real server on 127.0.0.1 ----------------------------------------------------------


@pytest.mark.integration
async def test_a_wrong_torrent_echoing_the_key_or_token_is_refused_without_either(
    server: Server,
) -> None:
    # The server's bytes are quoted by the refusal: the name of the torrent it sent instead,
    # the keys of a JSON body. Both may echo the key (its header) or the link's token.
    token = make_jwt(4_102_444_800.0, sub="secret-subject")
    wanted = "ab" * 20

    async def answer(request: web.Request) -> web.Response:
        if "token" in request.query:
            return web.json_response({request.query["token"]: "refused"})
        return web.Response(body=make_torrent(request.headers["X-Api-Key"]))

    server.route("GET", "/api/download/{tail}", answer)
    server.route("GET", "/api/torrents/download/{tail}", answer)
    await server.start()
    [linked] = decode_search(
        msgspec.json.encode([live_item(wanted, token=token, origin=server.url)])
    )
    async with client_for(server) as client:
        errors = []
        for target in (wanted, linked):
            with pytest.raises(la.IntegrityError) as info:
                await client.download(target)
            errors.append(info.value)
    assert "downloaded torrent '***'" in str(errors[0])
    assert "(keys: ***)" in str(errors[1])
    for error in errors:
        shown = "".join(traceback.format_exception(error)) + repr(error.args)
        assert API_KEY not in shown
        assert token not in shown
        assert error.__cause__ is None
        assert error.__context__ is None


class _RefusingBackend:
    """A backend that refuses to give a limiter: the engine's construction fails."""

    def limiter(self, **_: Any) -> Any:
        raise la.ConfigurationError("this backend refuses")

    def cache(self, **_: Any) -> Any:
        raise la.ConfigurationError("this backend refuses")

    async def aclose(self) -> None:
        return None


async def test_a_cancel_while_a_refused_open_closes_its_session_still_closes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A plain Task.cancel() (a shutdown, a timeout) landing while the failed open closes the
    # HTTP session must not leave that session open: nothing else can close it later.
    closing, release = asyncio.Event(), asyncio.Event()
    closed: list[bool] = []
    real = Transport.aclose

    async def slow_aclose(self: Transport) -> None:
        closing.set()
        await release.wait()
        await real(self)
        closed.append(True)

    monkeypatch.setattr(Transport, "aclose", slow_aclose)
    client = la.LaCaleClient(API_KEY, base_url="https://tracker.test", backend=_RefusingBackend())
    opening = asyncio.ensure_future(client.open())
    await closing.wait()
    opening.cancel()
    for _ in range(3):
        await asyncio.sleep(0)
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await opening
    assert closed == [True]


@pytest.mark.integration
async def test_a_token_too_short_to_mask_leaves_the_error_s_hashes_readable(
    server: Server,
) -> None:
    # Masking a two-character token would turn every "ab" of the hashes quoted into ***.
    wanted = "ab" * 20

    async def other_torrent(request: web.Request) -> web.Response:
        return web.Response(body=make_torrent("Another.Film"))

    server.route("GET", "/api/download/{tail}", other_torrent)
    await server.start()
    item = live_item(wanted, origin=server.url)
    item["downloadLink"] = f"{server.url}/api/download/{wanted}?token=ab"
    [linked] = decode_search(msgspec.json.encode([item]))
    async with client_for(server) as client:
        with pytest.raises(la.IntegrityError) as info:
            await client.download(linked)
    assert wanted in str(info.value)
