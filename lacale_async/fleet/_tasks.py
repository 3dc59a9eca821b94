"""Background work a RedisBackend starts (slot releases, lock renewals) and waits for at close."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["Background"]

T = TypeVar("T")


class Background:
    """The tasks a backend spawned and has not seen end."""

    __slots__ = ("_tasks",)

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Run ``coro`` as a task kept track of (and waited for by :meth:`close`)."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._forget)
        return task

    def _forget(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled():
            # Retrieved so asyncio does not log "exception never retrieved": the owner already
            # handled (or deliberately ignored) the failure.
            task.exception()

    async def close(self, grace: float) -> None:
        """Give the tasks still running ``grace`` seconds to finish, then cancel them.

        Tasks spawned while this waits (a waiter's clean-up, spawned when its call ends or is
        cancelled) are waited for too: none is left running against a client being closed.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while self._tasks:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await asyncio.wait(list(self._tasks), timeout=remaining)
        # Looped: cancelling a call makes its waiter spawn a clean-up, cancelled in turn.
        while self._tasks:
            pending = list(self._tasks)
            for task in pending:
                task.cancel()
            await asyncio.wait(pending)
