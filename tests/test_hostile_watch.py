"""``client.watch()`` and ``lacale watch`` against a hostile tracker and hostile conditions.

The tracker is a loopback aiohttp server whose search answers a test scripts round by round
(shuffled, repeated hashes under new guids, releases without a hash, pages past the tracker's
50, the key echoed in links), or the sandbox for faults. Time is a :class:`FakeClock` (a
wrapper when the wall clock must misbehave): nothing sleeps.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import logging
import random
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, cast

import pytest
from _loopback import Server, client_for
from aiohttp import web
from conftest import API_KEY, torrent_json

from lacale_async import (
    ConfigurationError,
    Delivery,
    FakeClock,
    LaCaleClient,
    SearchQuery,
    StorageError,
    WatchEvent,
)
from lacale_async._cli._watch_actions import Actions
from lacale_async._endpoints import SEARCH_PATH
from lacale_async.testing import Fault, SandboxConfig, SandboxServer

pytestmark = pytest.mark.integration
pytest_plugins = ["_loopback"]

Page = list[dict[str, Any]]


def release(
    name: str, *, hash_: str | None = None, guid: str | None = None, day: int = 1
) -> dict[str, Any]:
    """A search result named ``name``: its hash and guid derived from it unless given."""
    digest = hashlib.sha1(name.encode()).hexdigest() if hash_ is None else hash_
    return torrent_json(
        0,
        title=f"Zorglub.{name}.2026.1080p",
        guid=guid if guid is not None else f"guid-{name}",
        infoHash=digest,
        pubDate=f"2026-01-{day:02d}T10:00:00.000Z",
    )


class Tracker:
    """Answers search ``n`` with ``pages[n]`` (the last page once they run out)."""

    def __init__(self, server: Server, pages: list[Page]) -> None:
        self.pages = pages
        self.served = 0
        self.on_search: Callable[[web.Request], None] | None = None
        server.route("GET", SEARCH_PATH, self._search)

    async def _search(self, request: web.Request) -> web.StreamResponse:
        if self.on_search is not None:
            self.on_search(request)
        page = self.pages[min(self.served, len(self.pages) - 1)]
        self.served += 1
        return web.json_response(page)


def loopback_client(server: Server, clock: Any) -> LaCaleClient:
    # No key budget and no client cache: each round is one request the tracker answers anew.
    return client_for(server, clock=clock, key_rate=None, cache_ttl=0, quota_store=None)


async def take(
    events: AsyncIterator[WatchEvent], until: Callable[[WatchEvent], bool]
) -> list[WatchEvent]:
    got: list[WatchEvent] = []
    async for event in events:
        got.append(event)
        if until(event):
            break
    return got


def read_all(folder: Path) -> bytes:
    """Every file of ``folder`` (the state and its WAL), concatenated."""
    return b"".join(p.read_bytes() for p in sorted(folder.iterdir()))


def pwned(folder: Path) -> list[Path]:
    """The files an injected ``touch PWNED...`` would have made."""
    return list(folder.glob("PWNED*"))


def titles(events: list[WatchEvent]) -> list[str]:
    return [e.torrent.title for e in events]


# --- a tracker that shuffles, repeats and drops --------------------------------------------

A, B = release("a"), release("b")
NO_HASH = release("c", hash_="")
D = release("d", day=2)
E_NO_HASH = release("e", hash_="", day=3)
F = release("f", day=4)
G = release("g", day=5)
HOSTILE_ROUNDS: list[Page] = [
    [A, B, NO_HASH],  # the baseline
    # Shuffled; D twice (a new guid, its hash in capitals); E without a hash, twice.
    [
        NO_HASH,
        {**D, "guid": "other-guid", "infoHash": D["infoHash"].upper()},
        B,
        E_NO_HASH,
        A,
        D,
        E_NO_HASH,
    ],
    # A dropped, D under yet another guid with spaces round its hash, and F.
    [F, {**D, "guid": "third-guid", "infoHash": f"  {D['infoHash']} "}, E_NO_HASH, B],
    # A and the hashless C back after being dropped: nothing new but G.
    [G, A, NO_HASH, B, F],
]


@pytest.mark.parametrize("restart", [False, True], ids=["one-run", "restart-after-each"])
async def test_a_shuffling_repeating_tracker_yields_each_new_release_once(
    server: Server, tmp_path: Path, restart: bool
) -> None:
    tracker = Tracker(server, HOSTILE_ROUNDS)
    await server.start()
    clock = FakeClock(1000.0)
    state = tmp_path / "watch.db"
    got: list[WatchEvent] = []
    async with loopback_client(server, clock) as client:
        while not got or got[-1].torrent.title != G["title"]:
            watch = client.watch("zorglub", interval=60, state=state, rng=random.Random(1))
            async with aclosing(watch) as events:
                if restart:
                    got.append(await events.__anext__())
                else:
                    got += await take(events, lambda e: e.torrent.title == G["title"])
    assert titles(got) == [D["title"], E_NO_HASH["title"], F["title"], G["title"]]
    assert tracker.served == 4  # a restart polls on: nothing re-baselined, no extra round


async def test_a_page_longer_than_the_per_query_memory_re_announces_nothing(
    server: Server,
) -> None:
    # The tracker lists at most 50, but nothing stops a hostile one sending 1,500: the newest
    # 1,000 the state keeps are then an arbitrary 1,000 of releases all still listed.
    page = [release(f"bulk{n:04d}") for n in range(1500)]
    sentinel = release("sentinel", day=9)
    Tracker(server, [page, page, [sentinel, *page]])
    await server.start()
    clock = FakeClock(1000.0)
    async with (
        loopback_client(server, clock) as client,
        aclosing(client.watch("zorglub", interval=60, rng=random.Random(1))) as events,
    ):
        first = await events.__anext__()
    assert first.torrent.title == sentinel["title"]


async def test_the_key_echoed_in_a_link_never_reaches_the_state_file(
    server: Server, tmp_path: Path
) -> None:
    state = tmp_path / "watch.db"

    def keyed(name: str) -> dict[str, Any]:
        item = release(name)
        item["link"] = f"{server.url}/rss/{API_KEY}/torrents/{name}?apikey={API_KEY}"
        item["downloadLink"] = f"{server.url}/api/download/{item['infoHash']}?token=tok-SECRET"
        return item

    Tracker(server, [[], [keyed("one"), keyed("two")]])
    await server.start()
    clock = FakeClock(1000.0)
    async with (
        loopback_client(server, clock) as client,
        aclosing(client.watch("zorglub", interval=60, state=state)) as events,
    ):
        await events.__anext__()  # "two" stays in the outbox, in the file
    raw = read_all(tmp_path)
    assert b"tok-SECRET" not in raw
    assert API_KEY.encode() not in raw


# --- a wall clock that goes backwards, then is corrected -------------------------------------


class SkewedClock:
    """A FakeClock whose wall time is off by ``skew`` seconds (set while it runs)."""

    def __init__(self, base: FakeClock) -> None:
        self.base = base
        self.skew = 0.0

    def now(self) -> float:
        return self.base.now()

    async def sleep(self, seconds: float) -> None:
        await self.base.sleep(seconds)

    def wall(self) -> float:
        return self.base.wall() + self.skew


async def test_a_wall_clock_set_back_then_corrected_loses_no_release(
    server: Server, tmp_path: Path
) -> None:
    clock = SkewedClock(FakeClock(1000.0))
    polled: list[str] = []
    new_alpha = release("alpha-new", day=9)
    sentinel = release("beta-sentinel", day=9)
    answers: dict[str, Page] = {"alpha": [A], "beta": [B]}

    async def search(request: web.Request) -> web.StreamResponse:
        query = request.query["q"]
        polled.append(query)
        alphas = polled.count("alpha")
        if query == "alpha" and alphas == 2:
            clock.skew = -40 * 86_400.0  # a stale RTC: alpha's round is stamped 40 days ago
        elif query == "beta" and clock.skew:
            clock.skew = 0.0  # NTP corrects it before beta's round is stamped
        elif query == "alpha" and alphas == 3:
            answers["alpha"] = [new_alpha, A]
        elif query == "beta" and alphas >= 3:
            answers["beta"] = [sentinel, B]  # the stop sign, after alpha's new release
        return web.json_response(answers[query])

    server.route("GET", SEARCH_PATH, search)
    await server.start()
    state = tmp_path / "watch.db"
    async with (
        loopback_client(server, clock) as client,
        aclosing(client.watch(["alpha", "beta"], interval=60, state=state)) as events,
    ):
        got = await take(events, lambda e: e.torrent.title == sentinel["title"])
    assert polled[:4] == ["alpha", "beta", "alpha", "beta"]
    assert titles(got) == [new_alpha["title"], sentinel["title"]]


# --- two watchers on one state file ---------------------------------------------------------


async def test_two_watchers_on_one_file_hand_out_each_release_once(tmp_path: Path) -> None:
    clock = FakeClock(1000.0)
    config = SandboxConfig(clock=clock, wall_clock=clock.wall, key_budget=())
    state = tmp_path / "watch.db"
    async with SandboxServer(config) as sandbox:
        published = [
            sandbox.publish(f"Zorglub.{n:03d}.2026.1080p", delay=45.0 * n) for n in range(1, 9)
        ]
        wanted = {t.info_hash for t in published}
        got: list[tuple[str, str]] = []
        everything = asyncio.Event()

        async def consume(name: str, client: LaCaleClient) -> None:
            watch = client.watch("zorglub", interval=60, state=state, rng=random.Random(name))
            async with aclosing(watch) as events:
                async for event in events:
                    got.append((name, event.torrent.info_hash))
                    if {h for _, h in got} >= wanted:
                        everything.set()
                    # Handling it takes a while: the other watcher's rounds read the outbox
                    # meanwhile, and must leave the release alone.
                    await clock.sleep(90)

        async with sandbox.client(clock=clock) as one, sandbox.client(clock=clock) as two:
            tasks = [asyncio.create_task(consume(n, c)) for n, c in (("one", one), ("two", two))]
            await asyncio.wait_for(everything.wait(), timeout=10)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    hashes = [h for _, h in got]
    assert sorted(hashes) == sorted(wanted)  # each once, across both


# --- Delivery misuse ------------------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1000.0)


@pytest.fixture
async def sandbox(clock: FakeClock) -> AsyncIterator[SandboxServer]:
    config = SandboxConfig(clock=clock, wall_clock=clock.wall, key_budget=())
    async with SandboxServer(config) as server:
        yield server


async def restart_titles(sandbox: SandboxServer, clock: FakeClock, state: Path) -> list[str]:
    """Restart the watch on ``state`` and return its titles up to a sentinel published after.

    The sentinel bounds the run: a release lost from the outbox is a wrong list, not a hang.
    """
    sentinel = sandbox.publish("Zorglub.sentinel.2026", delay=500)
    async with (
        sandbox.client(clock=clock) as client,
        aclosing(client.watch("zorglub", interval=60, state=state)) as events,
    ):
        got = await take(events, lambda e: e.torrent.title == sentinel.title)
    return titles(got)[:-1]


async def test_an_exception_thrown_into_the_watch_gives_the_release_back(
    sandbox: SandboxServer, clock: FakeClock, tmp_path: Path
) -> None:
    state = tmp_path / "watch.db"
    batch = [sandbox.publish(f"Zorglub.{n}.2026", delay=100) for n in range(2)]
    async with sandbox.client(clock=clock) as client:
        events = client.watch("zorglub", interval=60, state=state)
        assert (await events.__anext__()).torrent.title == batch[0].title
        with pytest.raises(KeyError, match="boom"):
            await events.athrow(KeyError("boom"))
        with pytest.raises(StopAsyncIteration):  # finished: it raised
            await events.__anext__()
    assert await restart_titles(sandbox, clock, state) == [t.title for t in batch]


async def test_closing_from_another_task_while_the_consumer_holds_it_keeps_the_release(
    sandbox: SandboxServer, clock: FakeClock, tmp_path: Path
) -> None:
    state = tmp_path / "watch.db"
    held = sandbox.publish("Zorglub.held.2026", delay=100)
    async with sandbox.client(clock=clock) as client:
        events = client.watch("zorglub", interval=60, state=state)
        assert (await events.__anext__()).torrent.title == held.title
        # A supervisor closes it while the consumer is still saving the release.
        await asyncio.create_task(events.aclose())
    assert await restart_titles(sandbox, clock, state) == [held.title]


async def test_later_for_ever_offers_the_release_once_per_round_never_faster(
    sandbox: SandboxServer, clock: FakeClock
) -> None:
    held = sandbox.publish("Zorglub.held.2026", delay=100)
    offers: list[float] = []
    async with (
        sandbox.client(clock=clock) as client,
        aclosing(client.watch("zorglub", interval=60, rng=random.Random(2))) as events,
    ):
        event = await events.__anext__()
        for _ in range(5):
            assert event.torrent.info_hash == held.info_hash
            offers.append(clock.now())
            event = await events.asend(Delivery.LATER)
    searched = [r.arrived_at for r in sandbox.requests if r.endpoint == "search"]
    assert all(b - a >= 60 for a, b in itertools.pairwise(offers))
    assert all(b - a >= 60 for a, b in itertools.pairwise(searched))
    # Each offer after the first waits for a round of its query: no spinning on LATER.
    for before, after in itertools.pairwise(offers):
        assert any(before < s <= after for s in searched)


@pytest.mark.parametrize("bad", [True, 0, "done", Delivery])
async def test_garbage_sent_back_is_a_configuration_error_and_keeps_the_release(
    sandbox: SandboxServer, clock: FakeClock, tmp_path: Path, bad: Any
) -> None:
    state = tmp_path / "watch.db"
    held = sandbox.publish("Zorglub.held.2026", delay=100)
    # What a watch that took the reply would yield next, instead of hanging: far later than
    # the restart below waits.
    sandbox.publish("Zorglub.guard.2026", delay=3000)
    async with (
        sandbox.client(clock=clock) as client,
        aclosing(client.watch("zorglub", interval=60, state=state)) as events,
    ):
        await events.__anext__()
        with pytest.raises(ConfigurationError, match=r"send Delivery\.DONE or Delivery\.LATER"):
            await events.asend(bad)
    assert await restart_titles(sandbox, clock, state) == [held.title]


def replace_with_garbage(state: Path) -> bytes:
    """Put another program's file where the state was (its WAL and index with it)."""
    for extra in (state.with_name(state.name + "-wal"), state.with_name(state.name + "-shm")):
        extra.unlink(missing_ok=True)
    garbage = b"someone else's notes\n" * 50
    fresh = state.with_name("other.txt")
    fresh.write_bytes(garbage)
    fresh.replace(state)
    return garbage


async def test_a_state_file_replaced_mid_run_is_never_written_over(
    sandbox: SandboxServer, clock: FakeClock, tmp_path: Path
) -> None:
    state = tmp_path / "watch.db"
    batch = [sandbox.publish(f"Zorglub.{n}.2026", delay=100) for n in range(2)]
    later = sandbox.publish("Zorglub.later.2026", delay=300)
    async with (
        sandbox.client(clock=clock) as client,
        aclosing(client.watch("zorglub", interval=60, state=state)) as events,
    ):
        assert (await events.__anext__()).torrent.title == batch[0].title
        garbage = replace_with_garbage(state)
        # The open watch goes on with what it had: nothing twice, nothing skipped.
        assert (await events.__anext__()).torrent.title == batch[1].title
        assert (await events.__anext__()).torrent.title == later.title
    assert state.read_bytes() == garbage
    with pytest.raises(StorageError, match="cannot be used") as caught:
        await restart_titles(sandbox, clock, state)
    assert "new baseline" in str(caught.value)
    assert state.read_bytes() == garbage


# --- a 429 storm and a spent budget --------------------------------------------------------


async def test_a_429_storm_is_waited_out_never_sooner_than_retry_after_nor_the_interval(
    sandbox: SandboxServer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="lacale_async")
    sandbox.faults.add(Fault.slow(0), endpoint="search")  # the baseline goes through
    sandbox.faults.add(Fault.rate_limited(300), endpoint="search", times=4)
    sandbox.faults.add(Fault.rate_limited(0), endpoint="search", times=3)
    sandbox.faults.add(Fault.error(503), endpoint="search", times=6)
    late = sandbox.publish("Zorglub.late.2026", delay=100)
    async with (
        sandbox.client(clock=clock, max_retries=0) as client,
        aclosing(client.watch("zorglub", interval=60, rng=random.Random(3))) as events,
    ):
        assert (await events.__anext__()).torrent.title == late.title
    times = [r.arrived_at for r in sandbox.requests if r.endpoint == "search"]
    gaps = [round(b - a) for a, b in itertools.pairwise(times)]
    assert len(times) == 1 + 4 + 3 + 6 + 1
    # gaps[0] is the baseline's interval; the next four follow a 429 saying 300 s.
    assert all(g >= 300 for g in gaps[1:5])  # the tracker's Retry-After, honoured
    assert all(g >= 60 for g in gaps)  # a Retry-After of 0 is no licence to hurry
    assert max(gaps) <= 3600 + 6  # the backoff is capped at an hour (plus jitter)
    assert max(gaps) >= 3600  # and does reach it as failures repeat
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 13
    assert API_KEY not in caplog.text
    assert sandbox.api_key not in caplog.text


async def test_a_budget_spent_elsewhere_mid_watch_is_waited_for(clock: FakeClock) -> None:
    config = SandboxConfig(clock=clock, wall_clock=clock.wall, key_budget=())
    async with SandboxServer(config) as sandbox:
        late = sandbox.publish("Zorglub.late.2026", delay=2000)
        async with sandbox.client(clock=clock, key_rate=[(6, 3600.0)]) as client:

            async def spend_after_baseline() -> None:
                await clock.sleep(10)
                for n in range(5):  # the rest of the application eats the whole budget
                    await client.search(f"elsewhere {n}")

            spender = asyncio.create_task(spend_after_baseline())
            watch = client.watch("zorglub", budget_share=0.5, rng=random.Random(4))
            async with aclosing(watch) as events:
                got = await events.__anext__()
            await spender
        times = [r.arrived_at for r in sandbox.requests if r.endpoint == "search"]
    assert got.torrent.title == late.title
    assert sandbox.throttled_total == 0
    window = sorted(times)
    assert all(len([t for t in window if s <= t < s + 3600]) <= 6 for s in window)


# --- lacale watch --exec and rows with hostile text -------------------------------------------

HOSTILE_TITLE = (
    "Zorglub.$(touch PWNED).`touch PWNED2`;touch PWNED3 && 'q\"uote\n"
    "rm -rf ~ #|$HOME\x1b[31m\x00end"
)


def hostile_event(**over: Any) -> WatchEvent:
    from lacale_async import Torrent

    fields: dict[str, Any] = {
        "title": HOSTILE_TITLE,
        "guid": "g$(touch PWNED4)",
        "size": 10,
        "pub_date": datetime(2026, 1, 1, tzinfo=timezone.utc),
        "link": f"https://tracker.test/torrents/x?apikey={API_KEY}",
        "category": "Films;touch PWNED5",
        "seeders": 1,
        "leechers": 0,
        "info_hash": "ab" * 20,
        "download_link": "https://tracker.test/api/download/ab?token=tok-SECRET",
    }
    fields.update(over)
    return WatchEvent(
        query=SearchQuery(query="zorglub `id`"),
        torrent=Torrent(**fields),
        seen_at=datetime(2026, 1, 2, tzinfo=timezone.utc),
    )


def exec_actions(command: list[str], *, as_json: bool = False) -> Actions:
    return Actions(
        folder=None,
        command=command,
        timeout=30,
        as_json=as_json,
        width=200,
        show_query=True,
        secrets=(API_KEY, "tok-SECRET"),
    )


async def test_exec_hands_hostile_text_over_without_a_shell_reading_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LACALE_API_KEY", API_KEY)
    dump = tmp_path / "env.json"
    script = (
        "import json, os, sys; "
        f"json.dump({{k: v for k, v in os.environ.items() if k.startswith('LACALE')}}, "
        f"open({str(dump)!r}, 'w'))"
    )
    # The documented way to get shell features: a shell of one's own, the variable quoted.
    shell = ["sh", "-c", 'printf %s "$LACALE_TITLE" > title.txt; echo "$LACALE_GUID"']
    client = cast(LaCaleClient, None)  # no --download-to: the client is never used
    for command in ([sys.executable, "-c", script], shell):
        assert await exec_actions(command).handle(client, hostile_event()) is Delivery.DONE
    env = json.loads(dump.read_text())
    assert env["LACALE_TITLE"] == HOSTILE_TITLE.replace("\x00", "")
    assert (tmp_path / "title.txt").read_text() == HOSTILE_TITLE.replace("\x00", "")
    assert not pwned(tmp_path)
    assert "LACALE_API_KEY" not in env
    assert all(API_KEY not in v and "tok-SECRET" not in v for v in env.values())


async def test_rows_json_and_command_output_hold_no_secret_and_no_escape(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A tracker echoing the key in the link and escapes in the title: what the watch prints
    # (its row, its JSON line, the child's echo of its fields) shows neither.
    event = hostile_event(
        title="Zorglub.\x1b]0;owned\x07.\x9b31m.2026",
        link=f"https://tracker.test/rss/{API_KEY}/x?apikey={API_KEY}",
    )
    echo = ["sh", "-c", 'echo "$LACALE_TITLE"; echo "$LACALE_LINK" >&2']
    client = cast(LaCaleClient, None)
    for as_json in (False, True):
        await exec_actions(echo, as_json=as_json).handle(client, event)
    out, err = capsys.readouterr()
    assert not any(c in out + err for c in "\x1b\x07\x9b")
    assert "tok-SECRET" not in out + err
    assert API_KEY not in err
    assert API_KEY not in out


async def test_exec_never_hands_the_key_to_the_child_even_in_a_link_path(
    tmp_path: Path,
) -> None:
    dump = tmp_path / "env.json"
    script = f"import json, os; json.dump(dict(os.environ), open({str(dump)!r}, 'w'))"
    event = hostile_event(link=f"https://tracker.test/rss/{API_KEY}/torrents/x")
    client = cast(LaCaleClient, None)
    await exec_actions([sys.executable, "-c", script]).handle(client, event)
    env = json.loads(dump.read_text())
    assert [k for k, v in env.items() if API_KEY in v] == []
