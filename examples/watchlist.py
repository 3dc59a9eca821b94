"""The SDK part of the bot examples: watch lists per chat, and one watch announcing to them.

Framework-free, so the bots share it and a test runs it against the sandbox (see
tests/test_examples.py): ``announce`` takes the client and a ``send(chat_id, text)`` callback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import aclosing

import anyio

from lacale_async import LaCaleClient, ValidationError, WatchEvent

Send = Callable[[int, str], Awaitable[None]]


class WatchList:
    """Queries per chat (in memory: a real bot keeps them in its database)."""

    def __init__(self) -> None:
        self.chats: dict[int, set[str]] = {}
        self.changed = asyncio.Event()

    async def add(self, client: LaCaleClient, chat: int, text: str) -> str:
        query = " ".join(text.split()).lower()
        try:
            await client.watch(query).aclose()  # checks the query as search() would; sends nothing
        except ValidationError as exc:
            return f"Not a query the tracker takes: {exc}"
        self.chats.setdefault(chat, set()).add(query)
        self.changed.set()
        return f"Watching {query!r}."

    def remove(self, chat: int, text: str) -> str:
        query = " ".join(text.split()).lower()
        self.chats.get(chat, set()).discard(query)
        self.changed.set()
        return f"No longer watching {query!r}."

    def describe(self, chat: int) -> str:
        return ", ".join(sorted(self.chats.get(chat, ()))) or "Nothing watched: /watch <query>"


async def announce(
    client: LaCaleClient,
    watchlist: WatchList,
    send: Send,
    fmt: Callable[[WatchEvent], str],
    *,
    state: str = "bot-watch.sqlite3",
) -> None:
    """Announce each new release to the chats watching its query, until cancelled.

    One watch covers every chat's queries; a change of the lists restarts it (the state file
    remembers what was seen, so a restart announces nothing twice, and a new query starts
    from a baseline). Each restart polls its first query at once: a busy bot batches changes.
    """
    while True:
        watchlist.changed.clear()
        queries = sorted({q for wanted in watchlist.chats.values() for q in wanted})
        async with anyio.create_task_group() as tg:

            async def restart_on_change(scope: anyio.CancelScope = tg.cancel_scope) -> None:
                await watchlist.changed.wait()
                scope.cancel()

            tg.start_soon(restart_on_change)
            if not queries:
                await anyio.sleep_forever()
            async with aclosing(client.watch(queries, state=state)) as events:
                async for event in events:
                    for chat, wanted in list(watchlist.chats.items()):
                        if event.query.query in wanted:
                            await send(chat, fmt(event))
