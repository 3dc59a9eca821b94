"""Taking back the SDK's own cancellation of a caller's task."""

from __future__ import annotations

import asyncio
import sys

import pytest

from lacale_async._cancel import take_back

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
