"""Collapse concurrent identical calls into one execution (Go's ``singleflight``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import msgspec

from ._cancel import CLOSED, CLOSED_IN_FLIGHT, take_back
from ._errors import ClientStateError

__all__ = ["SingleFlight"]

V = TypeVar("V")


class _Call(msgspec.Struct, Generic[V]):
    """One execution in flight: its leader's task, its outcome, the futures of its joiners.

    A struct: one per miss, built by a C constructor rather than a Python ``__init__``.
    """

    leader: asyncio.Task[Any] | None
    # Built by the first joiner: most calls have none.
    waiters: list[asyncio.Future[None]] | None = None
    value: V | None = None
    error: BaseException | None = None
    rerun: bool = False  # the leader was cancelled: a joiner runs the work again
    closing: bool = False  # aclose() cancelled the leader

    def join(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
        woken: asyncio.Future[None] = loop.create_future()
        if self.waiters is None:
            self.waiters = [woken]
        else:
            self.waiters.append(woken)
        return woken

    def wake(self) -> None:
        for waiter in self.waiters or ():
            if not waiter.done():  # a cancelled joiner's future is left in the list
                waiter.set_result(None)


class SingleFlight(Generic[V]):
    """Run at most one ``fn`` per key at a time; concurrent callers share its outcome.

    The first caller of a key (the leader) runs the work in its own task, with no task of its
    own for it; the callers that join while it runs wait for its outcome. Cancelling a joiner
    never touches the work. Cancelling the leader cancels the work, but never reaches the
    joiners as a ``CancelledError``: they are woken and one of them runs the work again (the
    others join it), which costs one more request in that case. The key is forgotten as soon
    as the work ends, in success or failure, so an error is never cached and a failed key is
    retried by the next caller.

    Args:
        on_shared: Called each time a caller takes the outcome of work another caller had
            started (the client counts these as coalesced calls), or None.
    """

    __slots__ = ("_calls", "_closed", "_on_shared")

    def __init__(self, on_shared: Callable[[], None] | None = None) -> None:
        self._calls: dict[str, _Call[V]] = {}
        self._closed = False
        self._on_shared = on_shared

    def __len__(self) -> int:
        """Return the number of keys with work in flight."""
        return len(self._calls)

    async def do(
        self,
        key: str,
        fn: Callable[[], Awaitable[V]],
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> V:
        """Return ``fn()``'s result, sharing one execution with concurrent callers of ``key``.

        Args:
            key: Calls with equal keys are considered identical.
            fn: Starts the work; called by the caller that finds no work in flight for ``key``.
            loop: The running loop when the caller knows it (then no getpid system call on
                CPython 3.11 to find the current task); None looks it up.

        Returns:
            The work's value; a caller that joined work another caller had started is counted
            by ``on_shared`` (the value alone lets the engine hand this coroutine on as its own).

        Raises:
            ClientStateError: :meth:`aclose` was called before or during the wait.
            Exception: Whatever ``fn`` raised, raised in every caller that waited for it.
        """
        if self._closed:
            raise ClientStateError(CLOSED)
        calls = self._calls
        call = calls.get(key)
        if call is not None:
            return await self._join(key, call, fn)
        call = calls[key] = _Call(asyncio.current_task(loop))
        try:
            value = call.value = await fn()
        except asyncio.CancelledError:
            if call.closing and call.leader is not None and take_back(call.leader):
                raise ClientStateError(CLOSED_IN_FLIGHT) from None
            call.rerun = True
            raise
        except BaseException as exc:
            call.error = exc
            raise
        finally:
            if calls.get(key) is call:
                del calls[key]
            if call.waiters is not None:
                call.wake()
        return value

    async def _join(self, key: str, call: _Call[V], fn: Callable[[], Awaitable[V]]) -> V:
        """Wait for the leader's outcome; lead (or join) a re-run if the leader was cancelled."""
        # A future of our own, woken by the leader: our cancellation never reaches its work.
        await call.join(asyncio.get_running_loop())
        if self._closed:
            raise ClientStateError(CLOSED_IN_FLIGHT)
        if call.error is not None:
            raise call.error
        if call.rerun:
            return await self.do(key, fn)
        if self._on_shared is not None:
            self._on_shared()
        return call.value  # type: ignore[return-value]

    async def aclose(self) -> None:
        """Cancel all work in flight and wait for its leaders to leave; later calls raise.

        Leaders and joiners of that work raise :class:`ClientStateError`. Idempotent.
        Not the sender's close (``_cancel.Callers``), which ends requests: a leader may be out
        of any request (reading or filling a shared cache), and its joiners hold none.
        """
        self._closed = True
        current = asyncio.current_task()
        ends = []
        for call in list(self._calls.values()):
            leader = call.leader
            if leader is None or leader is current or leader.done():
                continue
            call.closing = True
            leader.cancel()
            ends.append(call.join(leader.get_loop()))
        for end in ends:
            await end
        self._calls.clear()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"in_flight={len(self._calls)}"
        return f"SingleFlight({state})"
