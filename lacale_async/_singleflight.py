"""Collapse concurrent identical calls into one execution (Go's ``singleflight``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from ._errors import ClientStateError

__all__ = ["SingleFlight"]

V = TypeVar("V")


class _Call(Generic[V]):
    __slots__ = ("error", "task", "value", "waiters")

    task: asyncio.Task[None]  # set right after the task is created, before anyone waits

    def __init__(self) -> None:
        # One future per waiting caller, all woken by the work itself as it ends.
        self.waiters: set[asyncio.Future[None]] = set()
        self.value: V | None = None
        self.error: BaseException | None = None


class SingleFlight(Generic[V]):
    """Run at most one ``fn`` per key at a time; concurrent callers share its outcome.

    The work runs in a task of its own, so cancelling one caller never cancels the work the
    others wait on. When the *last* caller waiting on a key goes away, the work is cancelled:
    nobody would read its result, and a search left running would only spend rate budget (the
    cache is filled by the caller, not here). The key is forgotten as soon as the work ends,
    in success or failure, so an error is never cached and a failed key is retried by the
    next caller.
    """

    __slots__ = ("_calls", "_closed", "_tasks")

    def __init__(self) -> None:
        self._calls: dict[str, _Call[V]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def __len__(self) -> int:
        """Return the number of keys with work in flight."""
        return len(self._calls)

    async def do(self, key: str, fn: Callable[[], Awaitable[V]]) -> tuple[V, bool]:
        """Return ``fn()``'s result, sharing one execution with concurrent callers of ``key``.

        Args:
            key: Calls with equal keys are considered identical.
            fn: Starts the work; called only by the first caller of a key.

        Returns:
            ``(value, shared)``: ``shared`` is True when this caller joined work another caller
            had started.

        Raises:
            ClientStateError: :meth:`aclose` was called before or during the wait.
            Exception: Whatever ``fn`` raised, raised in every caller that waited for it.
        """
        if self._closed:
            raise ClientStateError("the client was closed; create a new LaCaleClient")
        call = self._calls.get(key)
        if call is None:
            shared = False
            call = _Call()
            loop = asyncio.get_running_loop()
            task = call.task = loop.create_task(self._run(key, call, fn))
            self._calls[key] = call
            self._tasks.add(task)
        else:
            shared = True
            task = call.task
            loop = task.get_loop()
        # A future of our own, woken by the work: our cancellation must not reach the shared
        # task, and its cancellation must not pass for ours. Cheaper than asyncio.wait(),
        # which builds a set, a future and a callback per waiter.
        woken: asyncio.Future[None] = loop.create_future()
        call.waiters.add(woken)
        try:
            await woken
        finally:
            call.waiters.discard(woken)
            if not task.done() and not call.waiters:
                # Last one out: forget the key first so a newcomer starts fresh work
                # instead of joining work that is being cancelled.
                self._forget(key, call)
                task.cancel()
        if call.error is not None:
            raise call.error
        if task.cancelled():
            if self._closed:
                raise ClientStateError("the client was closed while this request was in flight")
            raise asyncio.CancelledError  # fn itself gave up by raising CancelledError
        # Neither failed nor cancelled: _run stored fn's result in value.
        return call.value, shared  # type: ignore[return-value]

    async def _run(self, key: str, call: _Call[V], fn: Callable[[], Awaitable[V]]) -> None:
        """Run the shared work and wake its waiters as it ends, whatever the outcome.

        The waiters are woken from here rather than by a done-callback on the task, which
        would cost one more trip through the event loop per call. By the time a woken waiter
        runs, this task has finished (waking only schedules it). An exception is kept on the
        call rather than left on the task: when every waiter has left, nobody would retrieve
        it and asyncio would report it as never retrieved.
        """
        try:
            call.value = await fn()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            call.error = exc
            if not isinstance(exc, Exception):
                raise  # KeyboardInterrupt, SystemExit: the event loop must see them
        finally:
            self._forget(key, call)
            self._tasks.discard(call.task)
            for waiter in call.waiters:
                if not waiter.done():
                    waiter.set_result(None)

    def _forget(self, key: str, call: _Call[V]) -> None:
        if self._calls.get(key) is call:
            del self._calls[key]

    async def aclose(self) -> None:
        """Cancel all work in flight and wait for it to end; later calls raise; idempotent."""
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        # Work cancelled before its first step never ran its own wake-up: do it here.
        for call in self._calls.values():
            for waiter in call.waiters:
                if not waiter.done():
                    waiter.set_result(None)
        self._calls.clear()
        self._tasks.clear()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"in_flight={len(self._calls)}"
        return f"SingleFlight({state})"
