"""FifoGate and ExitSignal: first come, first served, woken on their own loop, across threads."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from lacale_async._gate import ExitSignal, FifoGate


class LoopThread:
    """An event loop running in a thread of its own."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def submit(self, make: Callable[[], Coroutine[Any, Any, Any]]) -> asyncio.Future[Any]:
        return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(make(), self.loop))

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


async def queued(gate: FifoGate, count: int) -> None:
    """Return once ``count`` callers queue on ``gate`` (polled: it has no event to wait on)."""
    for _ in range(5000):
        if gate.waiting >= count:
            return
        await asyncio.sleep(0.001)
    raise AssertionError(f"{count} waiters never queued")


async def test_waiters_on_another_loop_are_served_in_order() -> None:
    gate = FifoGate()
    other = LoopThread()
    order: list[str] = []
    try:
        await gate.enter()

        async def waiter(name: str) -> None:
            await gate.enter()
            order.append(name)
            gate.leave()

        remote = other.submit(lambda: waiter("remote"))
        await queued(gate, 1)
        local = asyncio.ensure_future(waiter("local"))
        await queued(gate, 2)
        gate.leave()
        await asyncio.wait_for(asyncio.gather(remote, local), 5)
    finally:
        other.close()
    assert order == ["remote", "local"]
    assert gate.waiting == 0


async def test_a_cancelled_remote_waiter_passes_the_gate_on() -> None:
    gate = FifoGate()
    other = LoopThread()
    try:
        await gate.enter()
        started = threading.Event()

        async def cancelled_waiter() -> None:
            task = asyncio.ensure_future(gate.enter())
            started.set()
            await asyncio.sleep(0.01)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

        remote = other.submit(cancelled_waiter)
        await asyncio.to_thread(started.wait, 5)
        local = asyncio.ensure_future(gate.enter())
        await remote
        gate.leave()
        await asyncio.wait_for(local, 5)  # the cancelled waiter did not keep the gate
        gate.leave()
    finally:
        other.close()


async def test_exit_signal_wakes_a_waiter_from_another_thread() -> None:
    signal = ExitSignal()
    fired = signal.arm()
    assert signal.arm() is fired  # one waiter, one future until it fires
    threading.Thread(target=signal.fire).start()
    await asyncio.wait_for(fired, 5)
    signal.fire()  # nobody armed: nothing happens
    assert not signal.arm().done()


def test_a_closed_loop_is_skipped() -> None:
    gate = FifoGate()

    async def hold() -> None:
        await gate.enter()

    asyncio.run(hold())
    dead = asyncio.new_event_loop()
    fut: asyncio.Future[None] = dead.create_future()
    dead.close()
    gate._queue.append((dead, fut))
    gate.leave()  # must not raise, and must free the gate
    assert gate.waiting == 0
    asyncio.run(hold())
