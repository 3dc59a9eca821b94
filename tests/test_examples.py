"""The bot examples' SDK part against the sandbox, without aiogram or discord.py installed.

Each bot imports its framework inside ``main()`` only; ``run_announcer(client, watchlist,
send)`` is what it runs beside the framework, and what is run here on a fake clock.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import pytest

from lacale_async import FakeClock, LaCaleClient
from lacale_async.testing import SandboxConfig, SandboxServer

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1000.0)


@pytest.fixture
async def sandbox(clock: FakeClock) -> AsyncIterator[SandboxServer]:
    config = SandboxConfig(clock=clock, wall_clock=clock.wall, key_budget=())
    async with SandboxServer(config) as server:
        yield server


def load(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    for module in (name, "watchlist"):
        sys.modules.pop(module, None)
    return importlib.import_module(name)


@pytest.mark.parametrize("bot", ["telegram_bot", "discord_bot"])
async def test_each_chat_hears_of_new_releases_for_its_queries_once(
    bot: str,
    sandbox: SandboxServer,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)  # the bot's state file lands here
    module = load(bot, monkeypatch)
    assert "aiogram" not in sys.modules
    assert "discord" not in sys.modules
    sent: list[tuple[int, str]] = []
    arrived = asyncio.Event()

    async def send(chat: int, text: str) -> None:
        sent.append((chat, text))
        arrived.set()

    async def until(count: int) -> None:
        while len(sent) < count:
            arrived.clear()
            await arrived.wait()

    async with sandbox.client(clock=clock) as client:
        watchlist = module.WatchList()
        assert await watchlist.add(client, 1, "Zorglub") == "Watching 'zorglub'."
        await watchlist.add(client, 2, "  zorglub ")
        assert "Not a query" in await watchlist.add(client, 2, "x" * 300)
        first = sandbox.publish("Zorglub.2026.MULTi.1080p", delay=100)
        task = asyncio.create_task(module.run_announcer(client, watchlist, send))
        await until(2)
        # A third chat joins with a query of its own: the watch restarts, with a baseline.
        assert await watchlist.add(client, 3, "Glorb") == "Watching 'glorb'."
        later = sandbox.publish("Glorb.*Bold*.@everyone.2026", delay=100)
        await until(3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert sorted(chat for chat, _ in sent[:2]) == [1, 2]
    assert all(first.title in text.replace("\\", "") for _, text in sent[:2])
    assert sent[2][0] == 3
    assert "zorglub" not in sent[2][1].lower()
    if bot == "discord_bot":
        assert r"Glorb.\*Bold\*.@everyone" in sent[2][1]  # Markdown escaped
    else:
        assert later.title in sent[2][1]  # plain text, sent without a parse mode
    assert (tmp_path / "bot-watch.sqlite3").exists()
    assert watchlist.describe(2) == "zorglub"
    assert watchlist.remove(2, "ZORGLUB") == "No longer watching 'zorglub'."
    assert watchlist.describe(2).startswith("Nothing watched")


def test_examples_are_short_and_import_their_framework_only_in_main() -> None:
    for name in ("telegram_bot.py", "discord_bot.py"):
        text = (EXAMPLES / name).read_text(encoding="utf-8")
        assert len(text.splitlines()) <= 90
        head = text.split("def main()")[0]
        assert "import aiogram" not in head
        assert "from aiogram" not in head
        assert "import discord" not in head
        assert "from discord" not in head


def test_the_examples_extra_names_the_frameworks() -> None:
    pyproject = (EXAMPLES.parent / "pyproject.toml").read_text(encoding="utf-8")
    extra = next(line for line in pyproject.splitlines() if line.startswith("examples = "))
    assert "aiogram" in extra
    assert "discord.py" in extra
    assert "aiogram" not in pyproject.split("[project.optional-dependencies]")[0]
    assert LaCaleClient.watch.__doc__
