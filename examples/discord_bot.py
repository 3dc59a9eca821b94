"""A Discord bot (discord.py) announcing new La Cale releases for a watch list kept per channel.

    pip install 'lacale-async[examples]'
    LACALE_API_KEY=... DISCORD_TOKEN=... python examples/discord_bot.py

Commands: !watch <query>, !unwatch <query>, !list (enable the message content intent for
the bot). One watch serves every channel, within half of the key's daily budget, and its
state file means a restarted bot announces what it missed, and nothing twice.
"""

from __future__ import annotations

import asyncio
import os
import re

import anyio
from watchlist import Send, WatchList, announce

from lacale_async import LaCaleClient, WatchEvent

_MARKDOWN = re.compile(r"([\\*_~`|>#\[\]()-])")


def escape(text: str) -> str:
    """Escape Markdown: a title from the tracker cannot format, link or hide text."""
    return _MARKDOWN.sub(r"\\\1", text)


def format_release(event: WatchEvent) -> str:
    """The announcement: Markdown with every tracker-provided text escaped."""
    t = event.torrent
    return (
        f"**New for “{escape(event.query.query or '')}”**: {escape(t.title)}\n"
        f"{escape(t.category)}, {t.size / 2**30:.1f} GiB, {t.seeders} seeders\n<{t.link}>"
    )


async def run_announcer(client: LaCaleClient, watchlist: WatchList, send: Send) -> None:
    """The bot's SDK part: what the test runs against the sandbox, without discord.py."""
    await announce(client, watchlist, send, format_release)


def main() -> None:
    # Imported here so that the SDK part above runs (and is tested) without discord.py.
    import discord
    from discord.ext import commands

    intents = discord.Intents.default()
    intents.message_content = True
    bot = commands.Bot(command_prefix="!", intents=intents)
    watchlist = WatchList()
    quiet = discord.AllowedMentions.none()  # a title saying @everyone pings nobody

    async def run() -> None:
        async with LaCaleClient() as client, bot:

            @bot.command()
            async def watch(ctx: commands.Context[commands.Bot], *, query: str) -> None:
                await ctx.send(
                    await watchlist.add(client, ctx.channel.id, query), allowed_mentions=quiet
                )

            @bot.command()
            async def unwatch(ctx: commands.Context[commands.Bot], *, query: str) -> None:
                await ctx.send(watchlist.remove(ctx.channel.id, query), allowed_mentions=quiet)

            @bot.command(name="list")
            async def show(ctx: commands.Context[commands.Bot]) -> None:
                await ctx.send(watchlist.describe(ctx.channel.id), allowed_mentions=quiet)

            async def send(channel_id: int, text: str) -> None:
                channel = bot.get_channel(channel_id) or await bot.fetch_channel(channel_id)
                await channel.send(text, allowed_mentions=quiet)  # type: ignore[union-attr]

            async with anyio.create_task_group() as tg:
                tg.start_soon(run_announcer, client, watchlist, send)
                await bot.start(os.environ["DISCORD_TOKEN"])  # until Ctrl-C
                tg.cancel_scope.cancel()

    asyncio.run(run())


if __name__ == "__main__":
    main()
