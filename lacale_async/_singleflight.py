"""Collapse concurrent identical calls into one execution (Go's ``singleflight``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from ._errors import ClientStateError

__all__ = ["SingleFlight"]

V = TypeVar("V")


class _Call(Generic[V]):
    __slots__ = ("task", "waiters")

    def __init__(self, task: asyncio.Future[V]) -> None:
        self.task = task
        # One future per waiting caller, all woken by the task's single done-callback.
        self.waiters: set[asyncio.Future[None]] = set()


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
        self._tasks: set[asyncio.Future[V]] = set()
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
            raise ClientStateError("the client is closed; create a new LaCaleClient")
        call = self._calls.get(key)
        shared = call is not None
        if call is None:
            call = self._start(key, fn)
        task = call.task
        # A future of our own, woken by the task: our cancellation must not reach the shared
        # task, and its cancellation must not pass for ours. Cheaper than asyncio.wait(),
        # which builds a set, a future and a callback per waiter.
        woken: asyncio.Future[None] = task.get_loop().create_future()
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
        if task.cancelled():
            if self._closed:
                raise ClientStateError("the client was closed while this request was in flight")
            raise asyncio.CancelledError  # fn itself gave up by raising CancelledError
        return task.result(), shared

    def _start(self, key: str, fn: Callable[[], Awaitable[V]]) -> _Call[V]:
        task = asyncio.ensure_future(fn())
        call = _Call(task)
        self._calls[key] = call
        self._tasks.add(task)

        def done(t: asyncio.Future[V]) -> None:
            self._tasks.discard(t)
            self._forget(key, call)
            if not t.cancelled():
                # Marks the exception retrieved even when every waiter left before it was
                # raised: no "Task exception was never retrieved" noise.
                t.exception()
            for waiter in call.waiters:
                if not waiter.done():
                    waiter.set_result(None)

        task.add_done_callback(done)
        return call

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
        self._calls.clear()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"in_flight={len(self._calls)}"
        return f"SingleFlight({state})"
