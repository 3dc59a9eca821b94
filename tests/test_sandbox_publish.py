"""``SandboxServer.publish()`` and ``drip()``: new releases on demand, on the sandbox's clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from lacale_async import FakeClock, ValidationError, parse_torrent
from lacale_async.testing import CatalogueTorrent, SandboxConfig, SandboxServer

pytestmark = pytest.mark.integration


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1000.0)


@pytest.fixture(params=["live", "docs"])
async def sandbox(clock: FakeClock, request: pytest.FixtureRequest) -> AsyncIterator[SandboxServer]:
    config = SandboxConfig(clock=clock, wall_clock=clock.wall, profile=request.param)
    async with SandboxServer(config) as server:
        yield server


async def test_a_titled_release_is_newest_searchable_and_downloadable(
    sandbox: SandboxServer, clock: FakeClock
) -> None:
    release = sandbox.publish("Zorglub.2026.MULTi.1080p", size=123_456, seeders=7)
    assert sandbox.catalogue.get(release.info_hash) is not None
    async with sandbox.client(clock=clock) as client:
        found = await client.search("zorglub")
        data = await client.download(found[0])
        newest = await client.search("1080p")
    assert [t.info_hash for t in found] == [release.info_hash]
    assert found[0].size == 123_456
    assert found[0].seeders == 7
    assert found[0].category == "Films"
    assert parse_torrent(data).info_hash == release.info_hash
    assert newest[0].info_hash == release.info_hash  # newest of the whole catalogue


async def test_drawn_releases_differ_and_are_reproducible(clock: FakeClock) -> None:
    def draw() -> list[CatalogueTorrent]:
        server = SandboxServer(SandboxConfig(clock=clock, wall_clock=clock.wall, seed=3))
        return [server.publish() for _ in range(5)]

    first, again = draw(), draw()
    assert [t.info_hash for t in first] == [t.info_hash for t in again]
    assert len({t.info_hash for t in first}) == 5
    assert len({t.title for t in first}) > 1


async def test_a_delayed_release_appears_when_the_clock_gets_there(
    sandbox: SandboxServer, clock: FakeClock
) -> None:
    release = sandbox.publish("Zorglub.Later", delay=100, category="series")
    async with sandbox.client(clock=clock, cache_ttl=0) as client:
        assert await client.search("zorglub") == []
        await clock.sleep(60)
        assert await client.search("zorglub", cache="bypass") == []
        await clock.sleep(41)  # past its time, and past the sandbox's 30 s answer cache
        found = await client.search("zorglub", cache="bypass")
    assert [t.info_hash for t in found] == [release.info_hash]
    assert found[0].category in ("Séries TV", "Séries")
    # Dated when it appeared, not when it was scheduled.
    listed = sandbox.catalogue.get(release.info_hash)
    assert listed is not None
    assert listed.published_ms >= int((clock.wall() - 31) * 1000)


async def test_reset_forgets_published_and_scheduled_releases(
    sandbox: SandboxServer, clock: FakeClock
) -> None:
    now = sandbox.publish("Zorglub.Now")
    later = sandbox.publish("Zorglub.Later", delay=10)
    sandbox.reset()
    await clock.sleep(20)
    async with sandbox.client(clock=clock) as client:
        assert await client.search("zorglub") == []
    assert sandbox.catalogue.get(now.info_hash) is None
    assert sandbox.catalogue.get(later.info_hash) is None


async def test_bad_publications_are_refused(sandbox: SandboxServer) -> None:
    for kwargs in ({"category": "nope"}, {"size": -1}, {"delay": -1.0}, {"delay": float("nan")}):
        with pytest.raises(ValidationError):
            sandbox.publish("Zorglub", **kwargs)
    with pytest.raises(ValidationError):
        sandbox.publish("  ")


@pytest.mark.parametrize(
    ("title", "kwargs"),
    [
        # A wrong type raised a raw AttributeError or TypeError; a lone surrogate a raw
        # UnicodeEncodeError; a huge category a raw ValueError from its repr.
        (5, {}),
        (b"Zorglub", {}),
        ("\ud800", {}),
        ("Zorglub", {"category": 5}),
        pytest.param("Zorglub", {"category": 10**5000}, id="category=10**5000"),
        ("Zorglub", {"category": "\ud800"}),
        ("Zorglub", {"size": "1"}),
        ("Zorglub", {"size": True}),
        ("Zorglub", {"size": 2**63}),
        ("Zorglub", {"seeders": -1}),
        ("Zorglub", {"seeders": 1.5}),
        ("Zorglub", {"tmdb_id": "abc"}),
        ("Zorglub", {"delay": float("inf")}),
        ("Zorglub", {"delay": "1"}),
    ],
    ids=repr,
)
async def test_publish_checks_its_arguments(
    sandbox: SandboxServer, title: object, kwargs: dict[str, object]
) -> None:
    before = len(sandbox.catalogue)
    with pytest.raises(ValidationError):
        sandbox.publish(title, **kwargs)  # type: ignore[arg-type]
    assert len(sandbox.catalogue) == before


@pytest.mark.parametrize(
    "kwargs",
    [{"every": "1"}, {"every": float("inf")}, {"every": 0}, {"every": 1, "count": -1}],
    ids=repr,
)
async def test_drip_checks_its_arguments(sandbox: SandboxServer, kwargs: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        await sandbox.drip(**kwargs)  # type: ignore[arg-type]


async def test_drip_publishes_one_every_period_of_the_sandbox_clock(
    sandbox: SandboxServer, clock: FakeClock
) -> None:
    seen: list[tuple[float, str]] = []
    count = await sandbox.drip(
        20.0, count=3, on_publish=lambda t: seen.append((clock.now(), t.info_hash))
    )
    assert count == 3
    assert [at for at, _ in seen] == [1020.0, 1040.0, 1060.0]
    assert all(sandbox.catalogue.get(h) is not None for _, h in seen)
    with pytest.raises(ValidationError):
        await sandbox.drip(0)


async def test_drip_runs_until_cancelled(sandbox: SandboxServer, clock: FakeClock) -> None:
    before = len(sandbox.catalogue)
    task = asyncio.create_task(sandbox.drip(10.0))
    await clock.sleep(55)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(sandbox.catalogue) == before + 5
