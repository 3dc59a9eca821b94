"""Background work of a RedisBackend (``fleet._tasks``): tracked, quiet, and waited for."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest

from lacale_async.fleet._tasks import Background


async def test_spawn_returns_the_task_and_its_result() -> None:
    async def answer() -> int:
        return 42

    assert await Background().spawn(answer()) == 42


async def test_a_failed_task_reaches_no_loop_exception_handler() -> None:
    seen: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: seen.append(ctx))

    async def boom() -> None:
        raise OSError("down")

    task = Background().spawn(boom())
    await asyncio.wait([task])
    del task
    gc.collect()
    assert seen == []


async def test_close_zero_cancels_a_running_task_and_waits_for_it() -> None:
    background = Background()
    task = background.spawn(asyncio.Event().wait())
    await background.close(0)
    assert task.cancelled()


async def test_close_lets_a_task_that_finishes_in_the_grace_complete() -> None:
    background, go = Background(), asyncio.Event()

    async def work() -> str:
        await go.wait()
        return "done"

    task = background.spawn(work())
    closing = asyncio.ensure_future(background.close(3600))
    go.set()
    await closing
    assert task.result() == "done"


async def test_close_with_no_tasks_returns() -> None:
    await Background().close(3600)


async def test_a_clean_up_spawned_when_close_cancels_its_call_is_waited_for_too() -> None:
    # What the limiter, cache and ledger do: a waiter whose shielded call close cancels
    # spawns the clean-up from its CancelledError handler, after close took its snapshot.
    background, never = Background(), asyncio.Event()
    call = background.spawn(never.wait())
    spawned: list[asyncio.Task[Any]] = []
    ready = asyncio.Event()

    async def waiter() -> None:
        ready.set()  # set in the step that goes on to await the shield
        try:
            await asyncio.shield(call)
        except asyncio.CancelledError:
            spawned.append(background.spawn(never.wait()))
            raise

    waiting = asyncio.ensure_future(waiter())
    await ready.wait()
    await background.close(0)
    assert call.cancelled()
    assert len(spawned) == 1
    assert spawned[0].cancelled()
    with pytest.raises(asyncio.CancelledError):
        await waiting
