"""The deadline table (``_deadlines``): one timer for every request of a transport.

The table replaced aiohttp's per-request ``ClientTimeout(total=...)`` timers. Its clock and
timers are faked here (:class:`FakeScheduler`), so no test waits for real time: a block's
deadline passes when the test moves the fake time.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from lacale_async._deadlines import Deadlines

TIMEOUT = 1.0
GRAIN = 0.05

needs_cancel_count = pytest.mark.skipif(
    sys.version_info < (3, 11), reason="Python 3.10 tasks keep no count of cancellations"
)


class Timer:
    def __init__(self, when: float, callback: Callable[[], object]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False
        self.ran = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeScheduler:
    """A loop's clock and timers, moved by hand; due timers run inside :meth:`advance`."""

    def __init__(self) -> None:
        self.now = 0.0
        self.timers: list[Timer] = []

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[[], object], /) -> Timer:
        timer = Timer(when, callback)
        self.timers.append(timer)
        return timer

    @property
    def pending(self) -> list[Timer]:
        return [t for t in self.timers if not (t.cancelled or t.ran)]

    def advance(self, seconds: float) -> None:
        self.now += seconds
        while due := [t for t in self.pending if t.when <= self.now]:
            timer = min(due, key=lambda t: t.when)
            timer.ran = True
            timer.callback()


def cancelling() -> int:
    """The current task's count of pending cancellation requests (none kept on Python 3.10)."""
    task = asyncio.current_task()
    assert task is not None
    if sys.version_info >= (3, 11):
        return task.cancelling()
    return 0


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def table(scheduler: FakeScheduler) -> Deadlines:
    return Deadlines(TIMEOUT, scheduler, granularity=GRAIN)


class Block:
    """A task that enters a bound and waits until released; records how the block ended.

    It ends cancelled when the block raised CancelledError, and without an exception when
    the block raised anything else (recorded in ``seen``).
    """

    def __init__(self, deadlines: Deadlines, scheduler: FakeScheduler) -> None:
        self.release = asyncio.get_running_loop().create_future()
        self.seen: type[BaseException] | None = None
        self.ended_at: float | None = None
        self.cancelling_after: int | None = None
        self._deadlines = deadlines
        self._scheduler = scheduler
        self.task = asyncio.ensure_future(self.run())

    async def run(self) -> None:
        try:
            with self._deadlines.bound():
                await self.release
        except BaseException as exc:
            self.seen = type(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            self.ended_at = self._scheduler.now
            self.cancelling_after = cancelling()


async def test_a_block_past_its_deadline_ends_in_a_timeout_error() -> None:
    clock = FakeScheduler()
    block = Block(table(clock), clock)
    await settle()
    clock.advance(TIMEOUT - 0.001)
    await settle()
    assert not block.task.done()  # never early
    clock.advance(0.001)
    await settle()
    assert block.seen is asyncio.TimeoutError
    assert block.task.done()
    assert not block.task.cancelled()


async def test_the_timeout_takes_its_cancellation_back() -> None:
    if sys.version_info < (3, 11):
        pytest.skip("asyncio.timeout is new in Python 3.11")
    # Without uncancel() the task stays "cancelling": a later asyncio.timeout of its own would
    # then raise CancelledError instead of TimeoutError.
    clock = FakeScheduler()
    deadlines = table(clock)
    outcome: list[str] = []

    async def caller() -> None:
        with pytest.raises(asyncio.TimeoutError), deadlines.bound():
            await asyncio.get_running_loop().create_future()
        outcome.append(f"cancelling={cancelling()}")
        try:
            async with asyncio.timeout(0):
                await asyncio.sleep(1)
        except TimeoutError:
            outcome.append("own timeout")

    task = asyncio.ensure_future(caller())
    await settle()
    clock.advance(TIMEOUT)
    await task
    assert outcome == ["cancelling=0", "own timeout"]


async def test_a_block_is_late_by_at_most_the_granularity() -> None:
    clock = FakeScheduler()
    deadlines = table(clock)
    blocks = []
    for _ in range(40):  # one every 10 ms: several deadlines fall in each sweep
        blocks.append(Block(deadlines, clock))
        await settle()
        clock.advance(0.01)
    for _ in range(1100):  # to 1.5 s, 1 ms at a time
        clock.advance(0.001)
        await settle()
    for i, block in enumerate(blocks):
        deadline = i * 0.01 + TIMEOUT
        assert block.seen is asyncio.TimeoutError
        assert block.ended_at is not None
        assert deadline - 1e-9 <= block.ended_at <= deadline + GRAIN + 1e-9
    # Coalesced: far fewer wake-ups than blocks.
    assert len(clock.timers) <= 40 * 0.01 / GRAIN + 2


async def test_one_timer_serves_many_blocks_and_goes_idle() -> None:
    clock = FakeScheduler()
    deadlines = table(clock)
    tasks_before = len(asyncio.all_tasks())
    blocks = [Block(deadlines, clock) for _ in range(500)]
    await settle()
    assert len(deadlines) == 500
    assert len(clock.timers) == 1  # one timer, not one per block
    assert len(asyncio.all_tasks()) == tasks_before + 500  # the blocks' own: none added
    for block in blocks:
        block.release.set_result(None)
    await asyncio.gather(*(b.task for b in blocks))
    assert len(deadlines) == 0
    # The timer is left armed (re-arming per request is what the table avoids); its next
    # wake-up finds nothing and stops.
    clock.advance(TIMEOUT)
    assert clock.pending == []
    assert not deadlines.armed


async def test_a_finished_block_leaves_the_timer_for_the_next_one() -> None:
    clock = FakeScheduler()
    deadlines = table(clock)
    first = Block(deadlines, clock)
    await settle()
    first.release.set_result(None)
    await first.task
    clock.advance(0.5)
    second = Block(deadlines, clock)
    await settle()
    assert len(clock.timers) == 1
    clock.advance(0.5)  # the first one's deadline: the sweep re-arms for the second's
    await settle()
    assert not second.task.done()
    assert [t.when for t in clock.pending] == [1.5]
    clock.advance(0.5)
    await settle()
    assert second.seen is asyncio.TimeoutError
    assert second.ended_at == 1.5


async def test_close_cancels_the_timer() -> None:
    clock = FakeScheduler()
    deadlines = table(clock)
    block = Block(deadlines, clock)
    await settle()
    deadlines.close()
    assert clock.pending == []
    assert len(deadlines) == 0
    block.release.set_result(None)
    await block.task


async def test_the_real_loop_is_used_by_default_and_released_on_close() -> None:
    deadlines = Deadlines(60.0)
    with deadlines.bound():
        await asyncio.sleep(0)
    assert deadlines.armed
    deadlines.close()
    assert not deadlines.armed


async def test_the_callers_cancellation_stays_a_cancellation() -> None:
    clock = FakeScheduler()
    block = Block(table(clock), clock)
    await settle()
    block.task.cancel()
    await settle()
    assert block.seen is asyncio.CancelledError
    assert block.task.cancelled()
    clock.advance(TIMEOUT)  # nothing left to expire
    assert clock.pending == []


@needs_cancel_count
@pytest.mark.parametrize("first", ["deadline", "caller"])
async def test_a_cancellation_in_the_same_step_as_the_deadline_wins(first: str) -> None:
    clock = FakeScheduler()
    block = Block(table(clock), clock)
    await settle()
    if first == "deadline":
        clock.advance(TIMEOUT)
        block.task.cancel()
    else:
        block.task.cancel()
        clock.advance(TIMEOUT)
    await settle()
    assert block.seen is asyncio.CancelledError
    assert block.task.cancelled()
    assert block.cancelling_after == 1  # the caller's own, still pending; ours taken back


async def test_an_outer_asyncio_timeout_is_not_taken_for_ours() -> None:
    if sys.version_info < (3, 11):
        pytest.skip("asyncio.timeout is new in Python 3.11")
    clock = FakeScheduler()
    deadlines = table(clock)
    seen: list[type[BaseException]] = []
    ready = asyncio.Event()
    scopes: list[Any] = []

    async def caller() -> None:
        async with asyncio.timeout(None) as scope:
            scopes.append(scope)
            try:
                with deadlines.bound():
                    ready.set()
                    await asyncio.get_running_loop().create_future()
            except BaseException as exc:
                seen.append(type(exc))
                raise

    task = asyncio.ensure_future(caller())
    await ready.wait()
    scopes[0].reschedule(asyncio.get_running_loop().time())  # due now, as ours is
    clock.advance(TIMEOUT)
    with pytest.raises(TimeoutError):
        await task
    assert seen == [asyncio.CancelledError]  # the caller's timeout reached it as a cancellation


@needs_cancel_count
@pytest.mark.parametrize("first", ["deadline", "scope"])
async def test_an_anyio_cancel_scope_is_not_taken_for_ours(first: str) -> None:
    clock = FakeScheduler()
    deadlines = table(clock)
    seen: list[type[BaseException]] = []
    scope = anyio.CancelScope()

    async def caller() -> int:
        try:
            with scope:
                try:
                    with deadlines.bound():
                        await asyncio.get_running_loop().create_future()
                except BaseException as exc:
                    seen.append(type(exc))
                    raise
        except asyncio.TimeoutError:
            pass
        return cancelling()

    task = asyncio.ensure_future(caller())
    await settle()
    if first == "scope":
        scope.cancel()
        clock.advance(TIMEOUT)
    else:
        clock.advance(TIMEOUT)
        scope.cancel()
    assert await task == 0  # neither cancellation is left pending
    if first == "scope":
        assert seen == [asyncio.CancelledError]
        assert scope.cancelled_caught
    else:
        # anyio delivers its cancellation on the next loop step, once the deadline's has
        # already woken the task: the request had timed out first, as asyncio.timeout's would.
        assert seen == [asyncio.TimeoutError]


async def test_in_a_task_group_a_timeout_cancels_siblings_as_cancellations() -> None:
    clock = FakeScheduler()
    deadlines = table(clock)
    seen: dict[str, type[BaseException]] = {}

    async def request(name: str) -> None:
        await anyio.lowlevel.checkpoint()
        try:
            with deadlines.bound():
                await asyncio.get_running_loop().create_future()
        except BaseException as exc:
            seen[name] = type(exc)
            raise

    async def group() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(request, "early")
            await settle()
            clock.advance(0.5)
            tg.start_soon(request, "late")
            await settle()
            clock.advance(0.5)  # only the early one's deadline
            await asyncio.get_running_loop().create_future()

    # (Built-in ExceptionGroup on 3.11+, the exceptiongroup backport anyio uses on 3.10.)
    with pytest.raises(Exception) as info:
        await group()
    assert [type(e) for e in getattr(info.value, "exceptions", ())] == [asyncio.TimeoutError]
    assert seen == {"early": asyncio.TimeoutError, "late": asyncio.CancelledError}


@needs_cancel_count
async def test_a_swallowed_expiry_is_still_taken_back() -> None:
    clock = FakeScheduler()
    deadlines = table(clock)

    async def stubborn() -> int:
        # The suppress() stands for library code that eats a cancellation.
        with deadlines.bound(), contextlib.suppress(asyncio.CancelledError):
            await asyncio.get_running_loop().create_future()
        return cancelling()

    task = asyncio.ensure_future(stubborn())
    await settle()
    clock.advance(TIMEOUT)
    assert await task == 0
