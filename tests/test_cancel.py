"""Taking back the SDK's own cancellation of a caller's task."""

from __future__ import annotations

import asyncio
import sys

import anyio
import pytest

from lacale_async import _cancel
from lacale_async._cancel import Callers, pending, run_to_end, take_back
from lacale_async._errors import ClientStateError

pytestmark = pytest.mark.skipif(sys.version_info < (3, 11), reason="3.10 counts no cancellations")


async def _cancelled(times: int) -> tuple[bool, int]:
    """Cancel a sleeping task ``times`` times; return take_back's answer and what is left."""
    outcome: list[tuple[bool, int]] = []

    async def victim() -> None:
        task = asyncio.current_task()
        assert task is not None
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            if sys.version_info >= (3, 11):  # always (skipped below); narrows for mypy
                outcome.append((take_back(task), task.cancelling()))

    task = asyncio.create_task(victim())
    await asyncio.sleep(0)
    for _ in range(times):
        task.cancel()
    await task
    return outcome[0]


async def test_the_sdks_cancellation_alone_is_taken_back_entirely() -> None:
    assert await _cancelled(1) == (True, 0)


async def test_a_callers_own_cancellation_beside_it_is_reported_and_kept() -> None:
    assert await _cancelled(2) == (False, 1)


async def test_cancellations_pending_before_the_sdks_are_the_callers() -> None:
    async def victim() -> bool:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()  # the caller's own, pending before the SDK's
        before = 0
        if sys.version_info >= (3, 11):  # always (skipped below); narrows for mypy
            before = task.cancelling()
        task.cancel()  # the SDK's
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            return take_back(task, before)
        return False

    assert await victim() is True


async def _inside(callers: Callers, entered: asyncio.Event) -> str:
    """A request's bracket as the sender writes it; returns how the request ended."""
    task = callers.enter()
    try:
        entered.set()
        await asyncio.Event().wait()
        return "answered"
    except asyncio.CancelledError:
        if callers.leave(task):
            return "cut by the close"
        raise
    finally:
        callers.leave(task)


async def test_close_cuts_every_caller_inside_and_waits_for_each() -> None:
    callers = Callers()
    entered = [asyncio.Event() for _ in range(3)]
    tasks = [asyncio.create_task(_inside(callers, e)) for e in entered]
    for e in entered:
        await e.wait()
    await callers.close()
    # Each one has left by the time close() returns, and none is left cancelling.
    assert all(t.done() for t in tasks)
    assert [t.result() for t in tasks] == ["cut by the close"] * 3
    assert [pending(t) for t in tasks] == [0, 0, 0]


async def test_a_caller_cancelled_by_its_own_caller_too_stays_cancelled() -> None:
    callers = Callers()
    entered = asyncio.Event()
    task = asyncio.create_task(_inside(callers, entered))
    await entered.wait()
    task.cancel()  # the caller's own, pending as the close comes
    await callers.close()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_nothing_enters_once_closing() -> None:
    callers = Callers()
    await callers.close()
    with pytest.raises(ClientStateError, match="closed"):
        callers.enter()


async def test_a_caller_that_left_is_not_touched_by_the_close() -> None:
    callers = Callers()
    left, done = asyncio.Event(), asyncio.Event()

    async def after_its_request() -> None:
        callers.leave(callers.enter())
        left.set()
        await done.wait()  # the caller's own code, after its request

    task = asyncio.create_task(after_its_request())
    await left.wait()
    await callers.close()
    done.set()
    await task  # not cancelled


async def test_run_to_end_finishes_the_work_of_a_cancelled_caller_then_cancels_it() -> None:
    steps: list[str] = []
    gate = asyncio.Event()

    async def close() -> None:
        await gate.wait()
        steps.append("closed")

    caller = asyncio.create_task(run_to_end(close()))
    await asyncio.sleep(0)
    caller.cancel()
    await asyncio.sleep(0)
    caller.cancel()  # twice, as a task group may
    await asyncio.sleep(0)
    assert not caller.done()
    gate.set()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert steps == ["closed"]


async def test_run_to_end_raises_what_the_work_raised() -> None:
    async def broken() -> None:
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        await run_to_end(broken())


async def test_run_to_end_raises_the_works_error_though_the_caller_was_cancelled() -> None:
    async def broken() -> None:
        await asyncio.sleep(0)
        raise OSError("the session could not be closed")

    caller = asyncio.ensure_future(run_to_end(broken()))
    await asyncio.sleep(0)
    asyncio.get_running_loop().call_soon(caller.cancel)  # in the step the work fails
    with pytest.raises(OSError, match="could not be closed"):
        await caller


async def test_run_to_end_under_a_cancelled_anyio_scope_waits_quietly_and_raises_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wakes = 0
    outlived = _cancel._outlived

    async def counted(task: asyncio.Future[None]) -> bool:
        nonlocal wakes
        wakes += 1
        return await outlived(task)

    monkeypatch.setattr(_cancel, "_outlived", counted)
    done = asyncio.Event()

    async def slow_close() -> None:
        await done.wait()
        raise OSError("the session could not be closed")

    async def later() -> None:
        for _ in range(50):  # 50 loop steps, in which anyio re-delivers its cancellation
            await asyncio.sleep(0)
        done.set()

    helper = asyncio.ensure_future(later())
    with pytest.raises(OSError, match="could not be closed"), anyio.move_on_after(0):
        await run_to_end(slow_close())
    await helper
    assert wakes == 1
