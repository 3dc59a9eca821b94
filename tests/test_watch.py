"""``client.watch()`` against the sandbox on a fake clock, releases published between rounds.

Every release a test publishes "between rounds" is published with a ``delay``: it appears
when the sandbox's (fake) clock reaches that time, so no task waits to publish it and the
clock only ever jumps to the watch's own next poll. A watch is stopped by the consumer once it
has what it waits for (often a sentinel release published last).
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import logging
import random
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from pathlib import Path
from typing import Any

import pytest
from _windows import max_in_window

from lacale_async import (
    AuthenticationError,
    ConfigurationError,
    Delivery,
    FakeClock,
    LaCaleClient,
    PermissionDeniedError,
    SearchQuery,
    StorageError,
    ValidationError,
    WatchEvent,
)
from lacale_async.testing import Fault, RateLimit, SandboxConfig, SandboxServer

pytestmark = pytest.mark.integration

QUERY = "zorglub"  # no catalogue title has it: every match is a release a test published


def title(n: int, extra: str = "") -> str:
    return f"Zorglub.{extra}{n:03d}.2026.MULTi.1080p.WEB-DL-LACALE"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1000.0)


@pytest.fixture
def sandbox_config(clock: FakeClock) -> SandboxConfig:
    # No key-wide budget by default: intervals here are chosen by the tests.
    return SandboxConfig(clock=clock, wall_clock=clock.wall, key_budget=())


@pytest.fixture
async def sandbox(sandbox_config: SandboxConfig) -> AsyncIterator[SandboxServer]:
    async with SandboxServer(sandbox_config) as server:
        yield server


def searches(sandbox: SandboxServer) -> list[float]:
    return [r.arrived_at for r in sandbox.requests if r.endpoint == "search"]


async def take(
    events: AsyncIterator[WatchEvent],
    *,
    count: int | None = None,
    until: Callable[[WatchEvent], bool] | None = None,
) -> list[WatchEvent]:
    """Read events until ``count`` are in, or one satisfies ``until`` (included)."""
    got: list[WatchEvent] = []
    async for event in events:
        got.append(event)
        if (count is not None and len(got) >= count) or (until is not None and until(event)):
            break
    return got


def read_all(folder: Path) -> bytes:
    """Return every file of ``folder`` (the state and its WAL), concatenated."""
    return b"".join(p.read_bytes() for p in sorted(folder.iterdir()))


def titles(events: list[WatchEvent]) -> list[str]:
    return [e.torrent.title for e in events]


async def watch_for(
    sandbox: SandboxServer,
    clock: FakeClock,
    *,
    count: int | None = None,
    until: Callable[[WatchEvent], bool] | None = None,
    client_options: dict[str, Any] | None = None,
    **options: Any,
) -> list[WatchEvent]:
    async with sandbox.client(clock=clock, **(client_options or {})) as client:
        queries = options.pop("queries", QUERY)
        async with aclosing(client.watch(queries, rng=random.Random(1), **options)) as events:
            return await take(events, count=count, until=until)


async def test_each_release_published_between_rounds_is_delivered_once(
    sandbox: SandboxServer, clock: FakeClock
) -> None:
    before = sandbox.publish(title(0))  # in the baseline: never announced
    published = [sandbox.publish(title(n), delay=200.0 * n) for n in range(1, 6)]
    # Two at the same moment: one round finds both.
    published.append(sandbox.publish(title(6), delay=1000.0))
    events = await watch_for(sandbox, clock, count=6, interval=60)
    assert titles(events) == [t.title for t in published]
    assert before.title not in titles(events)
    assert all(e.query == SearchQuery(query=QUERY) for e in events)
    assert [e.torrent.info_hash for e in events] == [t.info_hash for t in published]
    # Found by the first round after each appeared: about 200 s apart on the clock.
    seen = [e.seen_at.timestamp() for e in events]
    assert seen == sorted(seen)
    assert seen[-1] - seen[0] == pytest.approx(800, abs=70)


async def test_include_existing_yields_the_first_round_too(
    sandbox: SandboxServer, clock: FakeClock
) -> None:
    existing = [sandbox.publish(title(n)) for n in range(3)]
    events = await watch_for(sandbox, clock, count=3, include_existing=True)
    # Oldest first, like a feed.
    assert titles(events) == [t.title for t in existing]
    assert len(searches(sandbox)) == 1


async def test_a_restart_with_state_yields_what_appeared_while_down_and_nothing_twice(
    sandbox: SandboxServer, clock: FakeClock, tmp_path: Path
) -> None:
    state = tmp_path / "watch.db"
    first = sandbox.publish(title(1), delay=100)
    events = await watch_for(sandbox, clock, count=1, interval=60, state=state)
    assert titles(events) == [first.title]
    # Down for an hour: three releases appear meanwhile, then one more after the restart.
    down = [sandbox.publish(title(n), delay=600.0 * (n - 1)) for n in range(2, 5)]
    await clock.sleep(3600)
    later = sandbox.publish(title(5), delay=300)
    events = await watch_for(sandbox, clock, count=4, interval=60, state=state)
    assert titles(events) == [t.title for t in [*down, later]]


async def test_a_restart_yields_every_release_still_listed_and_only_those(
    sandbox: SandboxServer, clock: FakeClock, tmp_path: Path
) -> None:
    state = tmp_path / "watch.db"
    sentinel = sandbox.publish(title(0, "sentinel."), delay=10)
    assert titles(await watch_for(sandbox, clock, count=1, state=state)) == [sentinel.title]
    # 60 appear while it is down: the answer lists the newest 50, which are all delivered;
    # the 10 oldest were never listed again, so no watch could see them.
    down = [sandbox.publish(title(n)) for n in range(1, 61)]
    await clock.sleep(600)
    events = await watch_for(sandbox, clock, count=50, state=state)
    assert titles(events) == [t.title for t in down[10:]]


async def test_closing_between_two_events_of_a_round_keeps_the_rest_for_the_next_start(
    sandbox: SandboxServer, clock: FakeClock, tmp_path: Path
) -> None:
    state = tmp_path / "watch.db"
    batch = [sandbox.publish(title(n), delay=100) for n in range(3)]
    first = await watch_for(sandbox, clock, count=1, interval=60, state=state)
    assert titles(first) == [batch[0].title]
    rest = await watch_for(sandbox, clock, count=2, interval=60, state=state)
    assert titles(rest) == [t.title for t in batch[1:]]
    # Handed out from the outbox, before any search of the second watch.
    assert len(searches(sandbox)) == 3  # baseline, the round that found them, and no more


async def test_cancelling_leaves_the_state_consistent(
    sandbox: SandboxServer, clock: FakeClock, tmp_path: Path
) -> None:
    state = tmp_path / "watch.db"
    got: list[WatchEvent] = []
    two = asyncio.Event()
    found = [sandbox.publish(title(n), delay=100) for n in range(2)]
    async with sandbox.client(clock=clock) as client:

        async def consume() -> None:
            async with aclosing(client.watch(QUERY, interval=60, state=state)) as events:
                async for event in events:
                    got.append(event)
                    if len(got) == 2:
                        two.set()

        task = asyncio.create_task(consume())
        await two.wait()
        await asyncio.sleep(0)  # the watch is back asleep on the clock: cancel it there
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert titles(got) == [t.title for t in found]
    later = sandbox.publish(title(9), delay=500)
    events = await watch_for(sandbox, clock, count=1, interval=60, state=state)
    assert titles(events) == [later.title]  # nothing twice, nothing lost


async def test_the_interval_never_goes_below_cache_ttl(
    sandbox: SandboxServer, clock: FakeClock
) -> None:
    # No key budget at all: the floor alone decides (the client's cache_ttl, 30 s).
    sentinel = sandbox.publish(title(0), delay=1800)
    await watch_for(sandbox, clock, count=1)
    times = searches(sandbox)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 30
    assert len(times) in range(55, 61)  # about one search per 30-33 s over 1800 s
    assert sentinel.title


async def test_an_interval_under_cache_ttl_is_refused_before_anything_is_sent(
    sandbox: SandboxServer, clock: FakeClock
) -> None:
    async with sandbox.client(clock=clock, cache_ttl=45) as client:
        with pytest.raises(ConfigurationError, match=r"interval >= 45"):
            client.watch(QUERY, interval=30)
    assert sandbox.requests == []


@pytest.mark.parametrize("queries", [2, 5])
async def test_the_budget_share_is_honoured_counting_requests(
    clock: FakeClock, queries: int
) -> None:
    # A scaled-down day: 20 per 600 s (and 60 per minute); half of it is 10 per 600 s.
    config = SandboxConfig(
        clock=clock,
        wall_clock=clock.wall,
        key_budget=(RateLimit(60, 60.0), RateLimit(20, 600.0)),
    )
    async with SandboxServer(config) as sandbox:
        sentinel = sandbox.publish(title(0), delay=3600)
        words = [QUERY] + [f"{QUERY} {n}" for n in range(1, queries)]
        events = await watch_for(
            sandbox, clock, queries=words, until=lambda e: e.torrent.title == sentinel.title
        )
        times = searches(sandbox)
    assert titles(events) == [sentinel.title]
    assert max_in_window(times, 600.0) <= 10
    # And it does use its share: each query every 600 / (10 // n) s, plus a little jitter.
    per_window = 10 // queries * queries
    assert len(times) >= 3600 / 600 * per_window * 0.85
    assert sandbox.throttled_total == 0


async def test_an_interval_that_overspends_the_share_says_which_fits(
    clock: FakeClock,
) -> None:
    config = SandboxConfig(clock=clock, wall_clock=clock.wall)  # 200 per day, live
    async with SandboxServer(config) as sandbox, sandbox.client(clock=clock) as client:
        words = [f"{QUERY} {n}" for n in range(10)]
        events = client.watch(words, interval=3600)
        with pytest.raises(ConfigurationError) as caught:
            await events.__anext__()
    assert "one every 8640 s (2 h 24 min) fits" in str(caught.value)
    assert searches(sandbox) == []


async def test_the_chosen_interval_is_logged_at_info(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    config = SandboxConfig(clock=clock, wall_clock=clock.wall)
    caplog.set_level(logging.INFO, logger="lacale_async.watch")
    async with SandboxServer(config) as sandbox:
        sandbox.publish(title(1), delay=10)
        words = [QUERY] + [f"{QUERY} {n}" for n in range(9)]
        await watch_for(sandbox, clock, count=1, queries=words, include_existing=False)
    assert "watching 10 queries, each every 2 h 24 min (budget_share=0.5)" in caplog.text


async def test_match_filters_but_remembers(
    sandbox: SandboxServer, clock: FakeClock, tmp_path: Path
) -> None:
    state = tmp_path / "watch.db"
    small = sandbox.publish(title(1, "small."), size=10, delay=100)
    big = sandbox.publish(title(2, "big."), size=10**10, delay=100)
    events = await watch_for(
        sandbox, clock, count=1, state=state, interval=60, match=lambda t: t.size > 10**9
    )
    assert titles(events) == [big.title]
    # Without the filter, the release it refused is not offered again: it was seen.
    after = sandbox.publish(title(3), delay=200)
    events = await watch_for(sandbox, clock, count=1, state=state, interval=60)
    assert titles(events) == [after.title]
    assert small.title not in titles(events)


async def test_transient_failures_are_retried_with_backoff(
    sandbox: SandboxServer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="lacale_async.watch")
    # The baseline goes through, then four failures in a row: 5xx, a challenge page, a 429
    # and a reset connection; the fifth poll works and finds what appeared meanwhile.
    faults = (Fault.error(502), Fault.html_challenge(), Fault.rate_limited(1), Fault.drop())
    for fault in (Fault.slow(0), *faults):
        sandbox.faults.add(fault, endpoint="search")
    late = sandbox.publish(title(1), delay=700)
    events = await watch_for(
        sandbox, clock, count=1, interval=60, client_options={"max_retries": 0}
    )
    assert titles(events) == [late.title]
    times = searches(sandbox)
    assert len(times) == 6
    gaps = [round(b - a) for a, b in itertools.pairwise(times)]
    # Next round after the first failure, then doubling as they repeat.
    assert 60 <= gaps[0] <= 66
    assert gaps[1:] == [60, 120, 240, 480]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 4
    kinds = ("ServerError", "ResponseError", "RateLimitError", "TransportError")
    for message, kind in zip(warnings, kinds, strict=True):
        assert kind in message
    assert "4 times in a row" in warnings[3]
    assert "trying again in 8 min" in warnings[3]


async def test_a_refused_key_ends_the_iterator(sandbox: SandboxServer, clock: FakeClock) -> None:
    async with LaCaleClient(
        "not-a-key", base_url=sandbox.base_url, clock=clock, quota_store=None, key_rate=None
    ) as client:
        with pytest.raises(AuthenticationError):
            async with aclosing(client.watch(QUERY)) as events:
                await take(events, count=1)
    assert len(searches(sandbox)) == 1  # not retried round after round


async def test_a_blocked_client_ends_the_iterator_after_the_baseline(
    sandbox: SandboxServer, clock: FakeClock
) -> None:
    sandbox.faults.add(Fault.slow(0), endpoint="search")
    sandbox.faults.add(Fault.access_denied(), endpoint="search")
    with pytest.raises(PermissionDeniedError):
        await watch_for(sandbox, clock, count=1, interval=60)
    assert len(searches(sandbox)) == 2


async def test_a_spent_daily_budget_waits_until_it_frees_up(clock: FakeClock) -> None:
    # The key's budget was spent elsewhere: the watch's search is refused before sending
    # (QuotaExceededError), logged, and tried again when the budget frees up, not before.
    config = SandboxConfig(clock=clock, wall_clock=clock.wall, key_budget=())
    async with SandboxServer(config) as sandbox:
        async with sandbox.client(clock=clock, key_rate=[(4, 3600.0)]) as client:
            for n in range(4):
                await client.search(f"spend {n}")
            late = sandbox.publish(title(1), delay=4000)
            watch = client.watch(QUERY, budget_share=1.0, rng=random.Random(1))
            async with aclosing(watch) as events:
                got = await take(events, count=1)
        times = searches(sandbox)[4:]
    assert titles(got) == [late.title]
    assert times[0] >= 1000 + 3600  # the baseline waited for the budget
    assert max_in_window(searches(sandbox), 3600.0) <= 4


async def test_a_bad_query_is_refused_before_anything_is_sent(
    sandbox: SandboxServer, clock: FakeClock
) -> None:
    async with sandbox.client(clock=clock) as client:
        bad: Any
        for bad in ([], ["ok", "x" * 201], [""], [SearchQuery(tmdb_id="12a")], b"dune", [3]):
            with pytest.raises(ValidationError):
                client.watch(bad)
        option: Any
        for option in (
            {"budget_share": 0},
            {"budget_share": 1.5},
            {"interval": float("nan")},
            {"include_existing": "yes"},
            {"match": "big"},
            {"rng": 3},
        ):
            with pytest.raises(ConfigurationError):
                client.watch(QUERY, **option)
    assert sandbox.requests == []


async def test_queries_the_tracker_answers_alike_are_polled_once(
    sandbox: SandboxServer, clock: FakeClock
) -> None:
    release = sandbox.publish("Amélie.Zorglub.2026.1080p", delay=100)
    queries = ["Amélie zorglub", "amelie  ZORGLUB", SearchQuery(query="amélie zorglub")]
    events = await watch_for(sandbox, clock, count=1, interval=60, queries=queries)
    assert titles(events) == [release.title]
    assert events[0].query == SearchQuery(query="Amélie zorglub")  # the first as given
    times = searches(sandbox)  # one query every 60 s, not three every 20 s
    assert len(times) == 3
    assert all(b - a >= 60 for a, b in itertools.pairwise(times))


async def test_the_state_holds_neither_the_key_nor_a_download_token(
    sandbox: SandboxServer, clock: FakeClock, tmp_path: Path
) -> None:
    state = tmp_path / "watch.db"
    batch = [sandbox.publish(title(n), delay=100) for n in range(2)]
    first = await watch_for(sandbox, clock, count=1, interval=60, state=state)
    assert first[0].torrent.download_link is not None  # delivered in this run: link kept
    raw = read_all(tmp_path)
    assert sandbox.api_key.encode() not in raw
    assert b"token=" not in raw
    rest = await watch_for(sandbox, clock, count=1, interval=60, state=state)
    assert titles(rest) == [batch[1].title]
    assert rest[0].torrent.download_link is None  # from the file: the documented path is used
    async with sandbox.client(clock=clock) as client:
        data = await client.download(rest[0].torrent)
    assert data == sandbox.catalogue.get(batch[1].info_hash).data  # type: ignore[union-attr]
    assert state.stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("content", [b"not a database at all" * 100, None])
async def test_an_unusable_state_file_is_a_clear_error(
    sandbox: SandboxServer, clock: FakeClock, tmp_path: Path, content: bytes | None
) -> None:
    state = tmp_path / "watch.db"
    if content is None:
        # Another program's SQLite file (the quota store, say): never written over.
        with sqlite3.connect(state) as conn:
            conn.execute("CREATE TABLE units (x)")
    else:
        state.write_bytes(content)
    before = state.read_bytes()
    with pytest.raises(StorageError, match="cannot be used") as caught:
        await watch_for(sandbox, clock, count=1, state=state)
    assert "new baseline" in str(caught.value)
    assert searches(sandbox) == []
    assert state.read_bytes() == before


def outbox_count(state: Path) -> int:
    with sqlite3.connect(state) as conn:
        count: int = conn.execute("SELECT count(*) FROM pending").fetchone()[0]
    conn.close()
    return count


@pytest.mark.parametrize("value", ["yesterday", 1e300, b"\x00\x01"])
async def test_a_damaged_outbox_row_is_a_storage_error_and_loses_no_release(
    sandbox: SandboxServer, clock: FakeClock, tmp_path: Path, value: object
) -> None:
    state = tmp_path / "watch.db"
    batch = [sandbox.publish(title(n), delay=100) for n in range(4)]
    first = await watch_for(sandbox, clock, count=1, interval=60, state=state)
    assert titles(first) == [batch[0].title]
    assert outbox_count(state) == 3
    with sqlite3.connect(state) as conn:
        good = conn.execute("SELECT seen_at FROM pending").fetchone()[0]
        conn.execute("UPDATE pending SET seen_at = ?", (value,))
    conn.close()
    for _ in range(2):  # a user retrying loses nothing either
        with pytest.raises(StorageError, match="damaged: a row of its pending table"):
            await watch_for(sandbox, clock, count=1, interval=60, state=state)
        assert outbox_count(state) == 3
    with sqlite3.connect(state) as conn:
        conn.execute("UPDATE pending SET seen_at = ?", (good,))  # repaired by hand
    conn.close()
    rest = await watch_for(sandbox, clock, count=3, interval=60, state=state)
    assert titles(rest) == [t.title for t in batch[1:]]


async def test_a_release_being_handled_when_cancelled_is_yielded_again_at_the_next_start(
    sandbox: SandboxServer, clock: FakeClock, tmp_path: Path
) -> None:
    state = tmp_path / "watch.db"
    batch = [sandbox.publish(title(n), delay=100) for n in range(2)]
    got: list[WatchEvent] = []
    holding = asyncio.Event()
    async with sandbox.client(clock=clock) as client:

        async def consume() -> None:
            async with aclosing(client.watch(QUERY, interval=60, state=state)) as events:
                async for event in events:
                    got.append(event)
                    holding.set()
                    await asyncio.Event().wait()  # handling it (a download), when Ctrl-C comes

        task = asyncio.create_task(consume())
        await holding.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert titles(got) == [batch[0].title]
    assert outbox_count(state) == 2  # at-least-once: the interrupted one is still there
    events = await watch_for(sandbox, clock, count=2, interval=60, state=state)
    assert titles(events) == [t.title for t in batch]
    assert events[0].seen_at == got[0].seen_at  # the same release, found by the same round


async def test_a_bare_async_for_cancelled_while_handling_keeps_the_release(
    sandbox: SandboxServer, clock: FakeClock, tmp_path: Path
) -> None:
    # Regression: nobody closed the iterator, so asyncio's finalizer did, in a task of its own
    # that is not cancelling: the close counted as done and the release was lost.
    state = tmp_path / "watch.db"
    batch = [sandbox.publish(title(n), delay=100) for n in range(2)]
    holding = asyncio.Event()
    async with sandbox.client(clock=clock) as client:

        async def consume() -> None:
            async for _ in client.watch(QUERY, interval=60, state=state):
                holding.set()
                await asyncio.Event().wait()

        task = asyncio.create_task(consume())
        await holding.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        del task
        gc.collect()  # the generator is garbage: asyncio schedules its aclose()
        for _ in range(5):
            await asyncio.sleep(0)
    assert outbox_count(state) == 2
    events = await watch_for(sandbox, clock, count=2, interval=60, state=state)
    assert titles(events) == [t.title for t in batch]


async def test_a_reply_sent_before_any_event_is_an_sdk_error(
    sandbox: SandboxServer, clock: FakeClock
) -> None:
    # Regression: Python's own TypeError ("can't send non-None value to a just-started async
    # generator") reached the caller.
    async with (
        sandbox.client(clock=clock) as client,
        aclosing(client.watch(QUERY, interval=60)) as events,
    ):
        with pytest.raises(ConfigurationError, match="nothing was yielded yet"):
            await events.asend(Delivery.LATER)


async def test_later_offers_a_release_again_after_its_querys_next_round(
    sandbox: SandboxServer, clock: FakeClock, tmp_path: Path
) -> None:
    state = tmp_path / "watch.db"
    batch = [sandbox.publish(title(n), delay=100) for n in range(2)]
    # Published later: what the unfixed code would yield instead (a failure, not a hang).
    sentinels = [sandbox.publish(title(n, "sentinel."), delay=1000) for n in range(2)]
    async with sandbox.client(clock=clock) as client:
        watch = client.watch(QUERY, interval=60, state=state, rng=random.Random(1))
        async with aclosing(watch) as events:
            first = await events.__anext__()
            second = await events.asend(Delivery.LATER)  # the rest of the round first
            at = clock.now()
            again = await events.asend(Delivery.LATER)
            assert clock.now() - at >= 60  # not before the query's next round
            third = await events.asend(Delivery.DONE)
            # Closed while holding a release it was given: done with it (a normal close).
    assert titles([first, second, again, third]) == [t.title for t in [*batch, *batch]]
    assert again.torrent.download_link is not None  # this run's link, kept in memory
    assert outbox_count(state) == 0  # both done, nothing lost, nothing left
    later = await watch_for(sandbox, clock, count=2, interval=60, state=state)
    assert titles(later) == [t.title for t in sentinels]


async def test_a_release_given_back_is_yielded_at_the_next_start(
    sandbox: SandboxServer, clock: FakeClock, tmp_path: Path
) -> None:
    state = tmp_path / "watch.db"
    release = sandbox.publish(title(1), delay=100)
    sentinel = sandbox.publish(title(2, "sentinel."), delay=100)
    async with (
        sandbox.client(clock=clock) as client,
        aclosing(client.watch(QUERY, interval=60, state=state)) as events,
    ):
        assert (await events.__anext__()).torrent.title == release.title
        assert (await events.asend(Delivery.LATER)).torrent.title == sentinel.title
    late = sandbox.publish(title(3, "late."), delay=100)
    restarted = await watch_for(
        sandbox, clock, interval=60, state=state, until=lambda e: e.torrent.title == late.title
    )
    assert titles(restarted) == [release.title, late.title]


async def test_a_consumer_error_counts_as_handled_and_a_bad_reply_is_refused(
    sandbox: SandboxServer, clock: FakeClock, tmp_path: Path
) -> None:
    state = tmp_path / "watch.db"
    batch = [sandbox.publish(title(n), delay=100) for n in range(3)]
    async with sandbox.client(clock=clock) as client:
        # The consumer's own exception is no interruption: its release is done (it would
        # fail again at every start otherwise).
        async def failing_consumer() -> None:
            async with aclosing(client.watch(QUERY, interval=60, state=state)) as events:
                async for _ in events:
                    raise ZeroDivisionError

        with pytest.raises(ZeroDivisionError):
            await failing_consumer()
        async with aclosing(client.watch(QUERY, interval=60, state=state)) as events:
            assert (await events.__anext__()).torrent.title == batch[1].title
            bad: Any = "later"
            with pytest.raises(ConfigurationError, match=r"Delivery\.LATER"):
                await events.asend(bad)
    restarted = await watch_for(sandbox, clock, count=2, interval=60, state=state)
    assert titles(restarted) == [t.title for t in batch[1:]]  # the refused reply kept it
