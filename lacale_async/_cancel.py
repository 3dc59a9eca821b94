"""Taking back a cancellation the SDK sent to a caller's task (a deadline, a client's close)."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

__all__ = ["take_back"]


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
