"""Waiting in line across threads: a FIFO gate and an exit signal whose waiters may be on any loop.

A rate budget is per key per process, not per event loop: a bot that runs one loop per thread
(or a sync app calling ``asyncio.run`` from worker threads) must not get one budget per loop.
So the shared history is guarded by a :class:`threading.Lock`, and a waiter is always woken on
its own loop: directly when the waker runs in that loop, else through
``loop.call_soon_threadsafe``. A handover to a waiter that was cancelled meanwhile is passed on
to the next one, so the gate is never lost.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque

__all__ = ["EPSILON", "ExitSignal", "FifoGate", "running_loop", "wake"]

EPSILON = 1e-9
"""A deadline this close to "now" is reached: float rounding in clock arithmetic must not turn
into an endless series of nanosecond sleeps."""


def running_loop() -> asyncio.AbstractEventLoop | None:
    """Return the event loop running in this thread, or None."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _settle(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def wake(loop: asyncio.AbstractEventLoop, fut: asyncio.Future[None]) -> bool:
    """Resolve ``fut`` on its own ``loop``, from any thread.

    Returns:
        False when ``loop`` is closed (nobody can be woken there any more), else True.
    """
    if running_loop() is loop:
        _settle(fut)
        return True
    try:
        loop.call_soon_threadsafe(_settle, fut)
    except RuntimeError:  # the loop was closed
        return False
    return True


class FifoGate:
    """First come, first served admission: one holder at a time, waiters on any loop."""

    __slots__ = ("_busy", "_lock", "_queue")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._busy = False
        self._queue: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = deque()

    @property
    def waiting(self) -> int:
        """How many callers queue behind the holder."""
        return len(self._queue)

    async def enter(self) -> None:
        """Wait until this caller holds the gate; a cancelled waiter takes no turn."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if not self._busy and not self._queue:
                self._busy = True
                return
            fut: asyncio.Future[None] = loop.create_future()
            self._queue.append((loop, fut))
        try:
            await fut
        except BaseException:
            if fut.done() and not fut.cancelled():
                # The gate was handed to us just as we were cancelled: pass it on.
                self.leave()
            else:
                # Still queued: a handover finds the future done and passes the gate on.
                fut.cancel()
            raise

    def leave(self) -> None:
        """Hand the gate to the next live waiter, or free it."""
        while True:
            with self._lock:
                if not self._queue:
                    self._busy = False
                    return
                loop, fut = self._queue.popleft()
            if running_loop() is loop:
                if fut.done():
                    continue  # cancelled while queued
                fut.set_result(None)  # ownership moves to that waiter; stay busy
                return
            try:
                loop.call_soon_threadsafe(self._hand_over, fut)
            except RuntimeError:
                continue  # that loop is closed: its waiters are gone
            return

    def _hand_over(self, fut: asyncio.Future[None]) -> None:
        # Runs on the waiter's loop, where its cancellation also happens: no race.
        if fut.done():
            self.leave()
        else:
            fut.set_result(None)


class ExitSignal:
    """Wakes the one gate holder waiting for a request to end, whatever its loop.

    :meth:`arm` and :meth:`fire` are called under the lock that guards the history, so an exit
    between "every slot is busy" and "wait for an exit" cannot be missed.
    """

    __slots__ = ("_waiter",)

    def __init__(self) -> None:
        self._waiter: tuple[asyncio.AbstractEventLoop, asyncio.Future[None]] | None = None

    def arm(self) -> asyncio.Future[None]:
        """Return a future resolved at the next :meth:`fire` (call from the waiting loop)."""
        waiter = self._waiter
        loop = asyncio.get_running_loop()
        if waiter is not None and waiter[0] is loop and not waiter[1].done():
            return waiter[1]
        fut: asyncio.Future[None] = loop.create_future()
        self._waiter = (loop, fut)
        return fut

    def fire(self) -> None:
        """Wake the armed waiter, if any."""
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            wake(*waiter)
