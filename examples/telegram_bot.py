"""A Telegram bot (aiogram 3) announcing new La Cale releases for a watch list kept per chat.

    pip install 'lacale-async[examples]'
    LACALE_API_KEY=... TELEGRAM_TOKEN=... python examples/telegram_bot.py

Commands: /watch <query>, /unwatch <query>, /list. One watch serves every chat, within half
of the key's daily budget (client.watch's default), and its state file means a restarted bot
announces what appeared while it was down, and nothing twice.
"""

from __future__ import annotations

import asyncio
import os

import anyio
from watchlist import Send, WatchList, announce

from lacale_async import LaCaleClient, WatchEvent


def format_release(event: WatchEvent) -> str:
    """Plain text (no parse_mode): a title from the tracker cannot inject HTML or Markdown."""
    t = event.torrent
    return (
        f"New for “{event.query.query}”: {t.title}\n"
        f"{t.category}, {t.size / 2**30:.1f} GiB, {t.seeders} seeders\n{t.link}"
    )


async def run_announcer(client: LaCaleClient, watchlist: WatchList, send: Send) -> None:
    """The bot's SDK part: what the test runs against the sandbox, without aiogram."""
    await announce(client, watchlist, send, format_release)


def main() -> None:
    # Imported here so that the SDK part above runs (and is tested) without aiogram.
    from aiogram import Bot, Dispatcher
    from aiogram.filters import Command, CommandObject
    from aiogram.types import Message

    bot = Bot(os.environ["TELEGRAM_TOKEN"])
    dp = Dispatcher()
    watchlist = WatchList()

    async def run() -> None:
        async with LaCaleClient() as client:

            @dp.message(Command("watch"))
            async def watch(message: Message, command: CommandObject) -> None:
                await message.answer(
                    await watchlist.add(client, message.chat.id, command.args or "")
                )

            @dp.message(Command("unwatch"))
            async def unwatch(message: Message, command: CommandObject) -> None:
                await message.answer(watchlist.remove(message.chat.id, command.args or ""))

            @dp.message(Command("list"))
            async def show(message: Message) -> None:
                await message.answer(watchlist.describe(message.chat.id))

            async def send(chat: int, text: str) -> None:
                await bot.send_message(chat, text)

            async with anyio.create_task_group() as tg:
                tg.start_soon(run_announcer, client, watchlist, send)
                await dp.start_polling(bot)  # until Ctrl-C
                tg.cancel_scope.cancel()

    asyncio.run(run())


if __name__ == "__main__":
    main()
