"""Cancellation, timeouts and concurrency as bots use the SDK, against a real loopback server.

A discord.py or aiogram handler is cancelled mid-call, a FastAPI request is bounded by
``asyncio.wait_for`` or an anyio scope, a bot shuts its client down while calls are in flight,
and many handlers ask the same search at once. The server's handlers wait on events the test
sets, so the test decides exactly where each request is. Every test checks the same
standards: the caller's own cancellation comes back as a ``CancelledError``, anything else as
a ``LaCaleError``; no task outlives the client; no "exception was never retrieved"; pytest's
warnings-as-errors catches an unclosed session.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import anyio
import pytest
from aiohttp import web
from conftest import API_KEY, META_JSON, info_hash_of, make_torrent, torrent_json
from hypothesis import given, settings
from hypothesis import strategies as st

import lacale_async as la
from lacale_async import FakeClock, LaCaleClient

pytestmark = pytest.mark.integration

# A safety net for awaits the test expects to end at once: a hang fails instead of blocking.
NET = 10.0


class Tracker:
    """A loopback tracker whose every answer waits for the test's ``release``.

    ``arrivals`` counts requests per path as their head is parsed (before any wait), so a
    request the client cancelled after sending it is still counted, as the real tracker does.
    """

    def __init__(self) -> None:
        self.app = web.Application()
        self.arrivals: dict[str, int] = {}
        self.release = asyncio.Event()
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""
        # Paths answered without waiting (meta, which an upload fetches first).
        self.free: set[str] = set()
        self.app.router.add_route("*", "/{tail:.*}", self._handle)
        self.answers: dict[str, Callable[[web.Request], Awaitable[web.StreamResponse]]] = {}

    def count(self, path: str = "") -> int:
        """Requests that arrived on ``path`` (every path when empty)."""
        if path:
            return self.arrivals.get(path, 0)
        return sum(self.arrivals.values())

    async def arrived(self, n: int, path: str = "") -> None:
        """Wait until ``n`` requests have arrived (on ``path``)."""
        await asyncio.wait_for(self._until(n, path), NET)

    async def _until(self, n: int, path: str) -> None:
        while self.count(path) < n:
            self._changed.clear()
            await self._changed.wait()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.arrivals[path] = self.arrivals.get(path, 0) + 1
        self._changed.set()
        answer = self.answers.get(path)
        if path in self.free:
            assert answer is not None
            return await answer(request)
        if answer is not None:
            return await answer(request)
        await self.release.wait()
        return web.json_response([torrent_json(0)])

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, handle_signals=False, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        self.release.set()  # no handler may hold the shutdown
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()


@pytest.fixture
async def loop_errors() -> AsyncIterator[list[dict[str, Any]]]:
    """What reaches the loop's exception handler ("Task exception was never retrieved"...)."""
    loop = asyncio.get_running_loop()
    seen: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: seen.append(context))
    yield seen
    gc.collect()  # a task dropped with its exception unread reports it as it is collected
    await asyncio.sleep(0)
    loop.set_exception_handler(previous)
    assert seen == []


@pytest.fixture
async def tracker(loop_errors: list[dict[str, Any]]) -> AsyncIterator[Tracker]:
    srv = Tracker()
    await srv.start()
    yield srv
    await srv.stop()


def client_of(tracker: Tracker, **kwargs: Any) -> LaCaleClient:
    options: dict[str, Any] = {
        "base_url": tracker.url,
        "search_rate": None,
        "meta_rate": None,
        "download_rate": None,
        "upload_rate": None,
        "max_retries": 0,
        "key_rate": None,
        "quota_store": None,
    }
    options.update(kwargs)
    return LaCaleClient(API_KEY, **options)


def files_in(folder: Path) -> list[str]:
    """The names in ``folder`` (a temp file left behind among them)."""
    return sorted(p.name for p in folder.iterdir())


async def steps(n: int = 20) -> None:
    """Let every ready task run ``n`` loop steps (no time passes)."""
    for _ in range(n):
        await asyncio.sleep(0)


async def no_task_left(tracker: Tracker, own: set[asyncio.Task[Any]]) -> None:
    """Stop the server, then check that no task but the test's own is left behind."""
    await tracker.stop()
    for _ in range(200):
        if asyncio.all_tasks() <= own:
            break
        await asyncio.sleep(0)
    assert asyncio.all_tasks() - own == set()


def outcome(task: asyncio.Task[Any]) -> str:
    """Say how a finished task ended: "ok", "cancelled", or its error's class name."""
    assert task.done()
    if task.cancelled():
        return "cancelled"
    error = task.exception()
    return "ok" if error is None else type(error).__name__


async def settle(tasks: list[asyncio.Task[Any]]) -> list[str]:
    """Wait for every task (bounded) and say how each ended."""
    await asyncio.wait_for(asyncio.wait(tasks), NET)
    return [outcome(t) for t in tasks]


# -- a caller cancelled mid-call ---------------------------------------------------------


async def test_a_search_cancelled_mid_request_raises_cancelled_and_the_client_goes_on(
    tracker: Tracker,
) -> None:
    own = asyncio.all_tasks()
    client = await client_of(tracker).open()
    handler = asyncio.create_task(client.search("x"))
    await tracker.arrived(1)
    handler.cancel()
    assert await settle([handler]) == ["cancelled"]
    # The flight was forgotten: the next caller sends its own request, not a dead one's.
    tracker.release.set()
    assert [t.title for t in await asyncio.wait_for(client.search("x"), NET)] == [
        torrent_json(0)["title"]
    ]
    assert tracker.count() == 2
    await client.aclose()
    await no_task_left(tracker, own)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout is new in 3.11")
async def test_asyncio_timeout_around_a_search_is_the_callers_own_timeout(
    tracker: Tracker,
) -> None:
    if sys.version_info < (3, 11):  # skipped above; narrows for mypy
        return
    client = await client_of(tracker).open()
    scopes: list[Any] = []  # asyncio.Timeout, new in 3.11

    async def bounded() -> object:
        async with asyncio.timeout(None) as scope:
            scopes.append(scope)
            return await client.search("x")

    handler = asyncio.create_task(bounded())
    await tracker.arrived(1)
    scopes[0].reschedule(asyncio.get_running_loop().time())  # expires now
    assert await settle([handler]) == ["TimeoutError"]
    assert scopes[0].expired()
    # Nothing of the SDK's own is left cancelling the task: it was the timeout's alone.
    assert handler.cancelling() == 0
    await client.aclose()


async def test_wait_for_around_a_search_raises_its_own_timeout_error(tracker: Tracker) -> None:
    client = await client_of(tracker).open()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(client.search("x"), 0.05)  # the tracker never answers
    await client.aclose()
    assert tracker.count() == 1


async def test_an_anyio_scope_cancelled_mid_search_swallows_it_and_the_search_was_sent(
    tracker: Tracker,
) -> None:
    own = asyncio.all_tasks()
    client = await client_of(tracker).open()
    scope = anyio.CancelScope()
    ended: list[str] = []

    async def handler() -> None:
        with scope:
            await client.search("x")
            ended.append("answered")
        ended.append("after the scope")

    task = asyncio.create_task(handler())
    await tracker.arrived(1)
    scope.cancel()
    assert await settle([task]) == ["ok"]
    assert ended == ["after the scope"]
    assert scope.cancelled_caught
    await client.aclose()
    await no_task_left(tracker, own)


async def test_move_on_after_around_a_search_moves_on_without_an_error(tracker: Tracker) -> None:
    client = await client_of(tracker).open()
    with anyio.move_on_after(0.05) as scope:
        await client.search("x")
    assert scope.cancelled_caught
    await client.aclose()


# -- single-flight: many handlers, one search --------------------------------------------


async def test_a_cancelled_follower_leaves_the_leader_and_the_other_followers_their_answer(
    tracker: Tracker,
) -> None:
    client = await client_of(tracker, cache_ttl=60).open()
    leader = asyncio.create_task(client.search("same"))
    await tracker.arrived(1)
    followers = [asyncio.create_task(client.search("same")) for _ in range(3)]
    await steps()
    followers[1].cancel()
    await steps()
    tracker.release.set()
    assert await settle([leader, *followers]) == ["ok", "ok", "cancelled", "ok"]
    assert tracker.count() == 1
    assert client.stats.coalesced == 2
    await client.aclose()


async def test_a_cancelled_leader_hands_the_search_to_a_follower_never_a_cancellation(
    tracker: Tracker,
) -> None:
    # The documented rule (SingleFlight): cancelling the leader cancels its request, its
    # followers are woken and one of them sends it again; none sees a CancelledError.
    client = await client_of(tracker, cache_ttl=60).open()
    leader = asyncio.create_task(client.search("same"))
    await tracker.arrived(1)
    followers = [asyncio.create_task(client.search("same")) for _ in range(3)]
    await steps()
    leader.cancel()
    await tracker.arrived(2)  # the re-run, by one follower, for all of them
    await steps()
    tracker.release.set()
    assert await settle([leader, *followers]) == ["cancelled", "ok", "ok", "ok"]
    assert tracker.count() == 2
    assert len({id(t.result()) for t in followers}) == 3  # each caller its own list
    await client.aclose()


async def test_leaders_cancelled_one_after_another_still_leave_the_last_follower_served(
    tracker: Tracker,
) -> None:
    client = await client_of(tracker, cache_ttl=60).open()
    callers = [asyncio.create_task(client.search("same"))]
    await tracker.arrived(1)
    callers += [asyncio.create_task(client.search("same")) for _ in range(3)]
    await steps()
    for n in range(3):  # each leader in turn, as each re-run reaches the tracker
        callers[n].cancel()
        await tracker.arrived(n + 2)
        await steps()
    tracker.release.set()
    assert await settle(callers) == ["cancelled"] * 3 + ["ok"]
    assert tracker.count() == 4
    await client.aclose()


async def test_a_leader_and_a_follower_cancelled_in_one_step_leave_the_rest_served(
    tracker: Tracker,
) -> None:
    client = await client_of(tracker, cache_ttl=60).open()
    callers = [asyncio.create_task(client.search("same"))]
    await tracker.arrived(1)
    callers += [asyncio.create_task(client.search("same")) for _ in range(3)]
    await steps()
    callers[0].cancel()
    callers[1].cancel()  # the follower the re-run would have gone to first
    await tracker.arrived(2)
    await steps()
    tracker.release.set()
    assert await settle(callers) == ["cancelled", "cancelled", "ok", "ok"]
    assert tracker.count() == 2
    await client.aclose()


# -- the client closed while calls are in flight -----------------------------------------


async def test_closing_with_a_flight_and_its_followers_ends_all_with_client_state_error(
    tracker: Tracker,
) -> None:
    own = asyncio.all_tasks()
    client = await client_of(tracker, cache_ttl=60).open()
    callers = [asyncio.create_task(client.search("same"))]
    await tracker.arrived(1)
    callers += [asyncio.create_task(client.search("same")) for _ in range(3)]
    callers.append(asyncio.create_task(client.search("other", cache="bypass")))
    await tracker.arrived(2)
    await steps()
    await asyncio.wait_for(client.aclose(), NET)
    assert await settle(callers) == ["ClientStateError"] * 5
    await no_task_left(tracker, own)


async def test_a_leader_cancelled_by_its_caller_as_the_client_closes_stays_cancelled(
    tracker: Tracker,
) -> None:
    client = await client_of(tracker, cache_ttl=60).open()
    callers = [asyncio.create_task(client.search("same"))]
    await tracker.arrived(1)
    callers += [asyncio.create_task(client.search("same")) for _ in range(2)]
    await steps()
    callers[0].cancel()  # the handler's own cancellation, pending as the close comes
    await asyncio.wait_for(client.aclose(), NET)
    assert await settle(callers) == ["cancelled", "ClientStateError", "ClientStateError"]


async def test_a_close_racing_calls_that_start_in_the_same_step_refuses_them_cleanly(
    tracker: Tracker,
) -> None:
    own = asyncio.all_tasks()
    client = await client_of(tracker, cache_ttl=60).open()
    first = asyncio.create_task(client.search("x"))
    await tracker.arrived(1)
    closer = asyncio.create_task(client.aclose())
    late = [asyncio.create_task(client.search(q)) for q in ("x", "y", "x")]
    assert (
        await settle([first, closer, *late])
        == ["ClientStateError", "ok"] + ["ClientStateError"] * 3
    )
    await no_task_left(tracker, own)


# -- the key budget counts exactly --------------------------------------------------------


@pytest.fixture(params=["memory", "file"])
def quota_store(request: pytest.FixtureRequest, tmp_path: Path) -> Path | None:
    return None if request.param == "memory" else tmp_path / "quota.sqlite3"


async def used(client: LaCaleClient) -> int:
    quota = await client.quota()
    return quota.windows[0].used


async def test_a_search_queued_for_the_key_budget_and_cancelled_spends_no_unit(
    tracker: Tracker, quota_store: Path | None
) -> None:
    clock = FakeClock(auto_advance=False)  # the burst window never frees while the test runs
    client = await client_of(
        tracker, key_rate=[(1, 60.0)], quota_store=quota_store, clock=clock
    ).open()
    first = asyncio.create_task(client.search("a", cache="bypass"))
    await tracker.arrived(1)
    queued = asyncio.create_task(client.search("b", cache="bypass"))
    await steps(50)
    assert not queued.done()
    queued.cancel()
    assert await settle([queued]) == ["cancelled"]
    tracker.release.set()
    assert await settle([first]) == ["ok"]
    assert tracker.count() == 1
    assert await used(client) == 1  # the first one's, not the cancelled one's
    assert client.stats.key_budget.requests == 1
    await client.aclose()


async def test_a_search_cancelled_after_it_was_sent_stays_counted(
    tracker: Tracker, quota_store: Path | None
) -> None:
    client = await client_of(
        tracker, key_rate=[(5, 60.0)], quota_store=quota_store, clock=FakeClock()
    ).open()
    handlers = [asyncio.create_task(client.search(q, cache="bypass")) for q in "abc"]
    await tracker.arrived(3)
    for handler in handlers:
        handler.cancel()
    assert await settle(handlers) == ["cancelled"] * 3
    # The tracker counted them: so must the budget, or the next ones would get 429s.
    assert await used(client) == 3
    assert client.stats.key_budget.requests == 3
    await client.aclose()


@pytest.mark.parametrize("wait", range(8))
async def test_a_search_cancelled_at_any_early_step_never_counts_less_than_the_tracker(
    tracker: Tracker, quota_store: Path | None, wait: int
) -> None:
    # Cancelled before it is sent, a request gives its unit back; once the unit is taken and
    # the connection is being made, it counts (nothing proves it did not leave). What the
    # budget says must never be less than what the tracker counted, nor exceed one.
    client = await client_of(
        tracker, key_rate=[(5, 60.0)], quota_store=quota_store, clock=FakeClock()
    ).open()
    handler = asyncio.create_task(client.search("a", cache="bypass"))
    await steps(wait)
    handler.cancel()
    assert await settle([handler]) == ["cancelled"]
    await steps()
    spent = await used(client)
    assert tracker.count() <= spent <= 1
    if wait == 0:  # cancelled before it ever ran
        assert spent == 0
    assert client.stats.key_budget.requests == spent
    tracker.release.set()
    await asyncio.wait_for(client.search("b", cache="bypass"), NET)
    assert await used(client) == spent + 1
    await client.aclose()


# -- uploads: never sent twice blindly ----------------------------------------------------


async def meta_answer(request: web.Request) -> web.Response:
    return web.json_response(META_JSON)


def upload(client: LaCaleClient) -> Coroutine[Any, Any, la.UploadResult]:
    return client.upload(title="T", category="films", torrent=make_torrent())


async def test_an_upload_whose_body_went_out_is_not_retried_after_a_timeout(
    tracker: Tracker,
) -> None:
    tracker.free.add("/api/external/meta")
    tracker.answers["/api/external/meta"] = meta_answer

    async def swallow(request: web.Request) -> web.Response:
        await request.read()  # the whole body arrived
        await tracker.release.wait()
        return web.json_response({"success": True, "id": "x", "slug": "x", "link": "x"})

    tracker.answers["/api/external/upload"] = swallow
    client = await client_of(tracker, timeout=0.2, max_retries=3).open()
    with pytest.raises(la.RequestTimeoutError) as caught:
        await asyncio.wait_for(upload(client), NET)
    assert caught.value.outcome_unknown
    assert tracker.count("/api/external/upload") == 1
    await client.aclose()


async def test_an_upload_cancelled_by_its_caller_after_the_body_went_out_is_not_resent(
    tracker: Tracker,
) -> None:
    tracker.free.add("/api/external/meta")
    tracker.answers["/api/external/meta"] = meta_answer
    read = asyncio.Event()

    async def swallow(request: web.Request) -> web.Response:
        await request.read()
        read.set()
        await tracker.release.wait()
        return web.json_response({"success": True, "id": "x", "slug": "x", "link": "x"})

    tracker.answers["/api/external/upload"] = swallow
    client = await client_of(tracker, max_retries=3).open()
    handler = asyncio.create_task(upload(client))
    await asyncio.wait_for(read.wait(), NET)
    handler.cancel()
    assert await settle([handler]) == ["cancelled"]
    tracker.release.set()
    # The same torrent again is a new call of the caller's, not a hidden retry: it is sent.
    await asyncio.wait_for(upload(client), NET)
    assert tracker.count("/api/external/upload") == 2
    await client.aclose()


# -- download_to: nothing partial left behind ---------------------------------------------


def half_body(tracker: Tracker, body: bytes) -> asyncio.Event:
    """Answer downloads with half of ``body`` and hold the rest until ``release``."""
    sent = asyncio.Event()

    async def answer(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(
            headers={"Content-Type": "application/x-bittorrent"},
        )
        resp.content_length = len(body)
        await resp.prepare(request)
        await resp.write(body[: len(body) // 2])
        sent.set()
        await tracker.release.wait()
        await resp.write(body[len(body) // 2 :])
        return resp

    for_hash = f"/api/torrents/download/{info_hash_of(body)}"
    tracker.answers[for_hash] = answer
    return sent


async def cancel_it(task: asyncio.Task[Any], client: LaCaleClient) -> None:
    task.cancel()


async def close_it(task: asyncio.Task[Any], client: LaCaleClient) -> None:
    await client.aclose()


CUTS: dict[str, Callable[[asyncio.Task[Any], LaCaleClient], Awaitable[None]]] = {
    "cancelled": cancel_it,
    "closed": close_it,
}


@pytest.mark.parametrize("cut", CUTS)
async def test_a_download_to_cut_mid_body_leaves_no_file_at_all(
    tracker: Tracker, tmp_path: Path, cut: str
) -> None:
    own = asyncio.all_tasks()
    body = make_torrent("Cut.Mid.Body")
    sent = half_body(tracker, body)
    client = await client_of(tracker).open()
    task = asyncio.create_task(client.download_to(info_hash_of(body), tmp_path))
    await asyncio.wait_for(sent.wait(), NET)
    await CUTS[cut](task, client)
    expected = "cancelled" if cut == "cancelled" else "ClientStateError"
    assert await settle([task]) == [expected]
    assert files_in(tmp_path) == []
    await client.aclose()
    await no_task_left(tracker, own)


async def test_a_download_to_past_its_deadline_mid_body_leaves_no_file(
    tracker: Tracker, tmp_path: Path
) -> None:
    body = make_torrent("Slow.Body")
    sent = half_body(tracker, body)
    client = await client_of(tracker, timeout=0.2).open()
    task = asyncio.create_task(client.download_to(info_hash_of(body), tmp_path / "t.torrent"))
    await asyncio.wait_for(sent.wait(), NET)
    assert await settle([task]) == ["RequestTimeoutError"]
    assert files_in(tmp_path) == []
    await client.aclose()


# -- search_many cancelled mid-batch ------------------------------------------------------


def batch_of(client: LaCaleClient, n: int, concurrency: int) -> AsyncGenerator[la.SearchOutcome]:
    """``search_many`` over ``n`` queries, as the closable generator its docs promise."""
    outcomes = client.search_many([f"q{i}" for i in range(n)], concurrency=concurrency)
    assert isinstance(outcomes, AsyncGenerator)
    return outcomes


async def test_search_many_cancelled_mid_batch_ends_every_search_and_leaves_no_task(
    tracker: Tracker,
) -> None:
    own = asyncio.all_tasks()
    client = await client_of(tracker).open()
    got: list[la.SearchOutcome] = []

    async def batch() -> None:
        async with contextlib.aclosing(batch_of(client, 6, 3)) as outcomes:
            got.extend([result async for result in outcomes])

    handler = asyncio.create_task(batch())
    await tracker.arrived(3)  # three in flight, three queued
    await steps()
    handler.cancel()
    assert await settle([handler]) == ["cancelled"]
    assert got == []
    assert tracker.count() == 3  # the queued ones were never sent
    # The client is untouched by the batch's end.
    tracker.release.set()
    assert len(await asyncio.wait_for(client.search("after"), NET)) == 1
    await client.aclose()
    await no_task_left(tracker, own)


async def test_leaving_search_many_early_cancels_the_rest_and_spends_nothing_more(
    tracker: Tracker,
) -> None:
    own = asyncio.all_tasks()
    gate = asyncio.Event()

    async def first_free(request: web.Request) -> web.Response:
        if request.query.get("q") == "q0":
            return web.json_response([torrent_json(0)])
        await gate.wait()
        return web.json_response([])

    for path in ("/api/external",):
        tracker.answers[path] = first_free
    client = await client_of(tracker).open()
    async with contextlib.aclosing(batch_of(client, 6, 2)) as outcomes:
        async for result in outcomes:
            assert result.ok
            break
    sent = tracker.count()
    assert sent <= 3  # the first, the one beside it, and at most the one taking its place
    await steps()
    assert tracker.count() == sent
    gate.set()
    await client.aclose()
    await no_task_left(tracker, own)


async def test_search_many_dropped_without_aclosing_reports_nothing_and_leaves_no_task(
    tracker: Tracker,
) -> None:
    own = asyncio.all_tasks()
    client = await client_of(tracker).open()
    tracker.release.set()
    outcomes = client.search_many([f"q{i}" for i in range(6)], concurrency=2)
    async for result in outcomes:
        assert result.ok
        break  # a bot's handler leaving the loop, the iterator left to the collector
    del outcomes
    gc.collect()
    await steps(50)
    await client.aclose()
    await no_task_left(tracker, own)


# -- closes that are themselves cut ---------------------------------------------------------


async def test_a_close_cancelled_halfway_with_flights_and_queued_units_ends_everything(
    tracker: Tracker, quota_store: Path | None, tmp_path: Path
) -> None:
    # A shutdown timeout cuts the bot's close: the flights, their followers, a download and a
    # search queued for the key budget must still end with the SDK's error, the session and
    # the store's worker closed (pytest turns a leaked session's warning into a failure).
    own = asyncio.all_tasks()
    clock = FakeClock(auto_advance=False)
    body = make_torrent("Closed.Halfway")
    half_body(tracker, body)
    client = await client_of(
        tracker, cache_ttl=60, key_rate=[(3, 60.0)], quota_store=quota_store, clock=clock
    ).open()
    callers: list[asyncio.Task[Any]] = [asyncio.create_task(client.search("same"))]
    await tracker.arrived(1)
    callers += [asyncio.create_task(client.search("same")) for _ in range(2)]
    callers.append(asyncio.create_task(client.download_to(info_hash_of(body), tmp_path)))
    callers.append(asyncio.create_task(client.search("bypass", cache="bypass")))
    await tracker.arrived(3)
    callers.append(asyncio.create_task(client.search("queued", cache="bypass")))
    await steps(50)
    closer = asyncio.create_task(client.aclose())
    await asyncio.sleep(0)
    closer.cancel()
    assert await settle([closer]) == ["cancelled"]
    assert await settle(callers) == ["ClientStateError"] * 6
    assert tracker.count() == 3  # the queued one never went
    assert [name for name in files_in(tmp_path) if not name.startswith("quota.sqlite3")] == []
    assert client.stats.key_budget.requests == 3
    await no_task_left(tracker, own)


# -- interleavings drawn by hypothesis -------------------------------------------------------

CALLERS = 4
Step = tuple[str, int]
STEPS = st.lists(
    st.one_of(
        st.tuples(
            st.sampled_from(["cancel", "cancel!", "scope", "join"]), st.integers(0, CALLERS - 1)
        ),
        st.tuples(st.sampled_from(["spin", "release", "close"]), st.just(0)),
    ),
    max_size=10,
)


async def interleave(script: list[Step]) -> None:
    """Run one interleaving of callers of one search and check what each caller saw."""
    tracker = Tracker()
    await tracker.start()
    loop = asyncio.get_running_loop()
    seen: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: seen.append(context))
    own = asyncio.all_tasks()
    client = await client_of(tracker, cache_ttl=60).open()
    scopes: list[anyio.CancelScope] = []
    tasks: list[asyncio.Task[str]] = []
    cancelled: set[int] = set()  # callers the script cancelled (Task.cancel) while running
    scoped: set[int] = set()  # callers whose own anyio scope the script cancelled
    closed = False

    async def caller(scope: anyio.CancelScope) -> str:
        with scope:
            await client.search("same")
            return "answered"
        return "moved on"

    def join() -> None:
        scopes.append(anyio.CancelScope())
        tasks.append(asyncio.create_task(caller(scopes[-1])))

    join()
    await tracker.arrived(1)
    for action, n in script:
        if action == "join" and len(tasks) < CALLERS + 2:
            join()
        elif action in ("cancel", "cancel!", "scope") and n < len(tasks) and not tasks[n].done():
            if action != "scope":
                tasks[n].cancel()
                cancelled.add(n)
            else:
                scopes[n].cancel()
                scoped.add(n)
        elif action == "release":
            tracker.release.set()
        elif action == "close" and not closed:
            closed = True
            await asyncio.wait_for(client.aclose(), NET)
        if action != "cancel!":  # "cancel!": the next action lands in the same loop step
            await steps(10)
    tracker.release.set()
    await settle(list(tasks))
    for n, task in enumerate(tasks):
        if n in cancelled:  # its own cancellation, whatever came with it
            assert task.cancelled(), (n, outcome(task), script)
        elif task.cancelled():
            pytest.fail(f"caller {n} got a CancelledError it never asked for: {script}")
        elif task.exception() is not None:
            assert closed, (n, task.exception(), script)
            assert isinstance(task.exception(), la.ClientStateError), (n, script)
        else:
            assert task.result() == ("moved on" if n in scoped else "answered") or (
                n in scoped and task.result() == "answered"
            ), (n, script)
    # One request per leader the script cut, plus the last; never one per caller.
    assert tracker.count() <= 1 + len(cancelled | scoped)
    await client.aclose()
    await no_task_left(tracker, own)
    gc.collect()
    await asyncio.sleep(0)
    assert seen == []


@settings(derandomize=True, max_examples=60, deadline=None, database=None)
@given(script=STEPS)
def test_no_interleaving_of_cancels_joins_and_a_close_hands_a_caller_a_foreign_error(
    script: list[Step],
) -> None:
    asyncio.run(interleave(script))


# -- more of the key budget: its FIFO gate, retries, flights -------------------------------


async def drive(clock: FakeClock, tasks: list[asyncio.Task[Any]]) -> list[str]:
    """Move the fake time a window at a time until every task ended; say how each did."""
    for _ in range(200):
        pending = [t for t in tasks if not t.done()]
        if not pending:
            break
        clock.advance(61.0)
        # A file store's worker thread answers in real time: wait for it a little, not for
        # the fake window (which the advance just freed).
        await asyncio.wait(pending, timeout=0.02)
    return await settle(tasks)


@pytest.mark.parametrize("victim", [1, 2])
async def test_a_cancelled_caller_queued_for_the_key_budget_never_stalls_the_queue(
    tracker: Tracker, quota_store: Path | None, victim: int
) -> None:
    # 1: the caller waiting for the window to free (it holds the budget's FIFO gate);
    # 2: the one queued behind it at the gate.
    clock = FakeClock(auto_advance=False)
    client = await client_of(
        tracker, key_rate=[(1, 60.0)], quota_store=quota_store, clock=clock
    ).open()
    tracker.release.set()
    callers = [asyncio.create_task(client.search(q, cache="bypass")) for q in "abcd"]
    await tracker.arrived(1)
    await steps(50)
    assert [t.done() for t in callers] == [True, False, False, False]
    callers[victim].cancel()
    expected = ["ok"] * 4
    expected[victim] = "cancelled"
    assert await drive(clock, callers) == expected
    assert tracker.count() == 3
    assert client.stats.key_budget.requests == 3
    await client.aclose()


@pytest.mark.parametrize("wait", range(6))
async def test_a_caller_cancelled_as_the_budgets_gate_is_handed_to_it_passes_it_on(
    tracker: Tracker, wait: int
) -> None:
    # The second caller waits for the window (holding the budget's FIFO gate), the third and
    # fourth queue at the gate. Once the window frees, the second takes its unit and hands
    # the gate to the third: cancelled at each loop step around that handover, the third
    # must pass the gate on, or the fourth waits for ever.
    clock = FakeClock(auto_advance=False)
    client = await client_of(tracker, key_rate=[(1, 60.0)], clock=clock).open()
    tracker.release.set()
    callers = [asyncio.create_task(client.search(q, cache="bypass")) for q in "abcd"]
    await tracker.arrived(1)
    await steps(50)
    assert [t.done() for t in callers] == [True, False, False, False]
    clock.advance(61.0)
    await steps(wait)
    callers[2].cancel()
    outcomes = await drive(clock, callers)
    assert outcomes[:2] == ["ok", "ok"]
    assert outcomes[2] in ("ok", "cancelled")
    assert outcomes[3] == "ok"
    assert tracker.count() == client.stats.key_budget.requests == outcomes.count("ok")
    await client.aclose()


async def test_a_search_cancelled_while_it_waits_to_retry_a_429_spent_one_unit(
    tracker: Tracker, quota_store: Path | None
) -> None:
    async def refuse(request: web.Request) -> web.Response:
        return web.json_response({"error": "slow down"}, status=429, headers={"Retry-After": "5"})

    tracker.answers["/api/external"] = refuse
    clock = FakeClock(auto_advance=False)
    client = await client_of(
        tracker, key_rate=[(10, 60.0)], quota_store=quota_store, clock=clock, max_retries=3
    ).open()
    handler = asyncio.create_task(client.search("x", cache="bypass"))
    await tracker.arrived(1)
    await steps(50)
    assert not handler.done()  # waiting out the Retry-After on the fake clock
    handler.cancel()
    assert await settle([handler]) == ["cancelled"]
    assert tracker.count() == 1
    assert await used(client) == 1
    await client.aclose()


async def test_a_cancelled_leader_and_its_re_run_are_both_counted_by_the_budget(
    tracker: Tracker, quota_store: Path | None
) -> None:
    client = await client_of(
        tracker, cache_ttl=60, key_rate=[(10, 60.0)], quota_store=quota_store, clock=FakeClock()
    ).open()
    leader = asyncio.create_task(client.search("same"))
    await tracker.arrived(1)
    followers = [asyncio.create_task(client.search("same")) for _ in range(2)]
    await steps()
    leader.cancel()
    await tracker.arrived(2)
    tracker.release.set()
    assert await settle([leader, *followers]) == ["cancelled", "ok", "ok"]
    assert await used(client) == tracker.count() == 2
    await client.aclose()


# -- task groups and deadlines landing together --------------------------------------------


async def test_a_failing_sibling_in_an_anyio_task_group_leaves_only_its_own_error(
    tracker: Tracker,
) -> None:
    client = await client_of(tracker).open()

    async def sibling() -> None:
        await tracker.arrived(1)
        raise LookupError("the bot's own bug")

    seen: list[type[BaseException]] = []

    async def search() -> None:
        try:
            await client.search("x")
        except BaseException as exc:
            seen.append(type(exc))
            raise

    # (Built-in ExceptionGroup on 3.11+, the exceptiongroup backport anyio uses on 3.10.)
    async def handler() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(search)
            group.start_soon(sibling)

    with pytest.raises(Exception) as caught:
        await handler()
    assert [type(e) for e in getattr(caught.value, "exceptions", ())] == [LookupError]
    assert seen == [asyncio.CancelledError]
    await client.aclose()


async def test_the_deadline_and_the_callers_cancel_in_one_step_stay_a_cancellation(
    tracker: Tracker,
) -> None:
    # The documented rule (_deadlines): a cancellation of the caller's own stays one, even
    # when it lands in the same loop step as the request's deadline.
    client = await client_of(tracker, timeout=0.2).open()
    handler = asyncio.create_task(client.search("x"))
    await tracker.arrived(1)
    deadlines = client._opened._sender._transport._deadlines  # type: ignore[union-attr]
    (bound,) = deadlines._live
    asyncio.get_running_loop().call_at(bound.deadline, handler.cancel)
    assert await settle([handler]) == ["cancelled"]
    await client.aclose()


async def test_a_deadline_alone_is_an_sdk_timeout_for_the_leader_and_every_follower(
    tracker: Tracker,
) -> None:
    client = await client_of(tracker, timeout=0.2, cache_ttl=60).open()
    callers = [asyncio.create_task(client.search("same"))]
    await tracker.arrived(1)
    callers += [asyncio.create_task(client.search("same")) for _ in range(2)]
    assert await settle(callers) == ["RequestTimeoutError"] * 3
    assert tracker.count() == 1
    await client.aclose()


# -- download_to cancelled while it writes -------------------------------------------------


async def test_download_to_cancelled_at_any_step_of_its_write_leaves_all_or_nothing(
    tracker: Tracker, tmp_path: Path
) -> None:
    body = make_torrent("All.Or.Nothing")
    info_hash = info_hash_of(body)

    async def whole(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/x-bittorrent")

    tracker.answers[f"/api/torrents/download/{info_hash}"] = whole
    client = await client_of(tracker).open()
    target = tmp_path / "t.torrent"
    seen: set[str] = set()
    for wait in range(0, 60, 2):
        task = asyncio.create_task(client.download_to(info_hash, target, overwrite=True))
        await steps(wait)
        task.cancel()
        (ended,) = await settle([task])
        seen.add(ended)
        names = files_in(tmp_path)
        if ended == "ok":
            assert names == ["t.torrent"]
            assert target.read_bytes() == body
            target.unlink()
        else:
            assert ended == "cancelled"
            assert names == [], wait
    assert "cancelled" in seen  # at least the first, cancelled before it began
    await client.aclose()


# -- a caller's cancel and the close in one loop step ---------------------------------------


SENT_CALLS: dict[str, Callable[[LaCaleClient], Coroutine[Any, Any, object]]] = {
    "bypass search": lambda client: client.search("x", cache="bypass"),
    "cached search": lambda client: client.search("x"),
    "download": lambda client: client.download("a" * 40),
    "upload": upload,
}


@pytest.mark.parametrize("first", ["the cancel", "the close"])
@pytest.mark.parametrize("name", SENT_CALLS)
async def test_a_callers_cancel_landing_with_the_close_stays_a_cancellation(
    tracker: Tracker, name: str, first: str
) -> None:
    tracker.free.add("/api/external/meta")
    tracker.answers["/api/external/meta"] = meta_answer
    own = asyncio.all_tasks()
    client = await client_of(tracker, cache_ttl=60).open()
    handler = asyncio.create_task(SENT_CALLS[name](client))
    await tracker.arrived(2 if name == "upload" else 1)
    await steps()
    if first == "the cancel":
        handler.cancel()
        closer = asyncio.create_task(client.aclose())
    else:
        closer = asyncio.create_task(client.aclose())
        await asyncio.sleep(0)  # the close has cancelled the request, which has not run yet
        handler.cancel()
    assert await settle([handler, closer]) == ["cancelled", "ok"]
    await no_task_left(tracker, own)


# -- two closes at once ----------------------------------------------------------------------


async def test_a_second_close_while_the_first_runs_returns_only_once_closed(
    tracker: Tracker,
) -> None:
    client = await client_of(tracker).open()
    handler = asyncio.create_task(client.search("x"))
    await tracker.arrived(1)
    signal_close = asyncio.create_task(client.aclose())  # a bot's signal handler
    await asyncio.sleep(0)
    try:
        await client.aclose()  # the bot's main, leaving `async with client`
        assert handler.done()  # "Close it, ending the work in flight"
        assert signal_close.done()
    finally:
        tracker.release.set()
        await settle([handler, signal_close])


async def test_closing_the_client_under_a_running_search_many_ends_it_with_sdk_errors(
    tracker: Tracker,
) -> None:
    own = asyncio.all_tasks()
    client = await client_of(tracker).open()
    got: list[la.SearchOutcome] = []

    async def batch() -> None:
        async with contextlib.aclosing(batch_of(client, 6, 3)) as outcomes:
            got.extend([result async for result in outcomes])

    consumer = asyncio.create_task(batch())
    await tracker.arrived(3)
    await steps()
    await asyncio.wait_for(client.aclose(), NET)
    (ended,) = await settle([consumer])
    # The batch either reports each search's error or stops with the SDK's: never a bare
    # CancelledError in a consumer nobody cancelled.
    assert ended in ("ok", "ClientStateError")
    assert all(isinstance(o.error, la.ClientStateError) for o in got)
    assert tracker.count() == 3
    await no_task_left(tracker, own)


async def test_a_search_waiting_out_a_spent_quota_window_and_cancelled_spends_nothing(
    tracker: Tracker, quota_store: Path | None
) -> None:
    clock = FakeClock(auto_advance=False)
    client = await client_of(
        tracker,
        key_rate=[(1, 3600.0)],
        on_quota="wait",
        max_quota_wait=7200.0,
        quota_store=quota_store,
        clock=clock,
    ).open()
    tracker.release.set()
    await asyncio.wait_for(client.search("a", cache="bypass"), NET)
    waiting = asyncio.create_task(client.search("b", cache="bypass"))
    await steps(50)
    assert not waiting.done()  # an hour to wait, within max_quota_wait
    waiting.cancel()
    assert await settle([waiting]) == ["cancelled"]
    assert await used(client) == 1
    assert client.stats.key_budget.refused == 0  # cancelled, not refused
    clock.advance(3700.0)
    await asyncio.wait_for(client.search("c", cache="bypass"), NET)
    assert tracker.count() == 2
    await client.aclose()


async def test_a_search_cancelled_once_its_unit_was_taken_keeps_it_counted(
    tracker: Tracker,
) -> None:
    # The safe direction (documented on KeyBudgetStats.requests): the SDK cannot tell whether
    # a cancelled request's bytes left; a unit given back that the tracker counted costs a 429.
    client = await client_of(
        tracker, key_rate=[(5, 60.0)], quota_store=None, clock=FakeClock()
    ).open()
    handler = asyncio.create_task(client.search("a", cache="bypass"))
    await asyncio.sleep(0)  # the unit is taken; the connection to the tracker is being made
    handler.cancel()
    assert await settle([handler]) == ["cancelled"]
    await steps()
    try:
        assert tracker.count() == 0
        assert await used(client) == 1
        assert client.stats.key_budget.requests == 1
    finally:
        await client.aclose()
