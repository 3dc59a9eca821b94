"""Cancellations the SDK sends to its callers' tasks (a deadline, a client's close), taken back.

A request runs in its caller's task, with no task of its own. Ending it from outside (its
deadline passed, its client closed) means cancelling that task, then taking the cancellation
back where the request ends, so that the caller sees an SDK error and never a bare
``CancelledError``, while a cancellation of the caller's own still goes on as one.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any

import anyio

from ._errors import ClientStateError

__all__ = ["CLOSED", "CLOSED_IN_FLIGHT", "Callers", "pending", "run_to_end", "take_back"]

CLOSED = "the client was closed; create a new LaCaleClient"
CLOSED_IN_FLIGHT = "the client was closed while this request was in flight"


def take_back(task: asyncio.Task[Any], before: int = 0) -> bool:
    """Take back one cancellation the SDK sent to ``task``; True when no other one is pending.

    On Python 3.11+ a task counts its cancellation requests (``asyncio.timeout`` relies on
    it): more than ``before`` once ours is taken back means its own caller (a timeout, a task
    group) cancelled it too, and that one must go on as a ``CancelledError``. Python 3.10
    keeps no count and merges two cancellations of one step into one: there the SDK's wins
    such a tie, as ``async-timeout`` does for its timeouts.

    Args:
        task: The task the SDK cancelled.
        before: Its cancellations pending before the SDK's (its caller's own).

    Returns:
        True when the SDK's cancellation was the only one left.
    """
    if sys.version_info >= (3, 11):
        return task.uncancel() <= before
    return True


if sys.version_info >= (3, 11):
    # The C method itself: a request calls it once or twice, on the hot path.
    pending: Callable[[asyncio.Task[Any]], int] = asyncio.Task.cancelling
    """Return the cancellations a task has pending: its caller's own (0 before Python 3.11)."""
else:

    def pending(task: asyncio.Task[Any]) -> int:
        """Return the cancellations a task has pending: its caller's own (0 before 3.11)."""
        return 0


async def run_to_end(work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` to its end even when the caller is cancelled meanwhile, then go on cancelled.

    For a close: cancelling it halfway (a shutdown timeout, a task group) would leave the HTTP
    session open for good, as the object already counts as closed. An anyio shield stops only
    anyio's own cancellations; this one stops ``Task.cancel()`` too.

    Raises:
        CancelledError: The caller was cancelled while ``work`` ran (raised once it ended).
        Exception: Whatever ``work`` raised.
    """
    task = asyncio.ensure_future(work)
    cancelled = False
    # anyio's shield stops anyio re-delivering its cancellation at every loop step (which
    # would wake this loop as often); the loop outlives plain Task.cancel() calls.
    with anyio.CancelScope(shield=True):
        while not task.done():
            cancelled |= await _outlived(task)
    task.result()  # the work's own error first: a close that failed must say so
    if cancelled:
        raise asyncio.CancelledError


async def _outlived(task: asyncio.Future[None]) -> bool:
    """Wait for ``task``; True when the caller was cancelled meanwhile."""
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        if task.cancelled():  # the work itself was cancelled, not (only) its caller
            raise
        return True
    return False


class Callers:
    """The callers' tasks inside a request, so that closing the client ends each one at once.

    :meth:`close` cancels every task still inside and waits until each has left; the task's
    :meth:`leave` then says the cancellation was the close's (the caller raises
    :class:`ClientStateError` instead) and takes it back. Built in the loop the requests run in.
    """

    __slots__ = ("_closing", "_inside", "_loop")

    def __init__(self) -> None:
        # Built by the sender in the loop that opened the client: the loop of every request.
        self._loop = asyncio.get_running_loop()
        # Each task inside, with the cancellations it had pending as it entered (its caller's
        # own, as asyncio.timeout counts them).
        self._inside: dict[asyncio.Task[Any], int] = {}
        # Set by close(): each task it cancelled, the future its leaving resolves, and what
        # it had pending as it entered.
        self._closing: dict[asyncio.Task[Any], tuple[asyncio.Future[None], int]] | None = None

    def enter(self) -> asyncio.Task[Any] | None:
        """Count the current task inside a request; return it, for :meth:`leave`.

        Raises:
            ClientStateError: :meth:`close` was called: nothing more is sent.
        """
        if self._closing is not None:
            raise ClientStateError(CLOSED)
        task = asyncio.current_task(self._loop)  # given its loop: no getpid system call (3.11)
        if task is not None:
            self._inside[task] = pending(task)
        return task

    def leave(self, task: asyncio.Task[Any] | None) -> bool:
        """Count ``task`` out (harmless twice); True when the close cut it, and nothing else did."""
        if task is None:
            return False
        self._inside.pop(task, None)
        closing = self._closing
        cut = closing.pop(task, None) if closing is not None else None
        if cut is None:
            return False
        left, before = cut
        if not left.done():
            left.set_result(None)
        return take_back(task, before)

    async def close(self) -> None:
        """Cancel every task inside a request, and wait until each has left; later ones raise."""
        closing = self._closing = {}
        current = asyncio.current_task()
        for task, before in self._inside.items():
            if task is not current and not task.done():
                task.cancel(CLOSED_IN_FLIGHT)
                closing[task] = (task.get_loop().create_future(), before)
        for left, _ in list(closing.values()):
            await left

    def __repr__(self) -> str:
        return f"Callers(inside={len(self._inside)})"
