"""The window rule of the key budget (assess) and the in-memory ledger."""

from __future__ import annotations

import math

import pytest

from lacale_async import FakeClock
from lacale_async._ledger import (
    PAUSE,
    Grant,
    MemoryLedger,
    Refusal,
    Span,
    assess,
    measure,
    window_usage,
)

MINUTE: Span = (3, 60.0, 61.0)
DAY: Span = (5, 86_400.0, 86_401.0)


def test_an_empty_history_lets_one_in() -> None:
    assert assess([MINUTE, DAY], 0, [], -math.inf, 0.0) is None


def test_the_window_holding_back_longest_is_named() -> None:
    done = [0.0, 10.0, 20.0, 30.0, 40.0]
    refusal = assess([MINUTE, DAY], 0, done, -math.inf, 50.0)
    assert refusal is not None
    assert refusal.binding == 1  # the day is spent: it holds back far longer than the minute
    assert refusal.wait == pytest.approx(86_401.0 - 50.0)
    assert refusal.used == 5
    refusal = assess([MINUTE, DAY], 0, done[2:], -math.inf, 50.0)
    assert refusal is not None
    assert refusal.binding == 0
    assert refusal.wait == pytest.approx(20.0 + 61.0 - 50.0)


def test_units_in_flight_count_as_now() -> None:
    refusal = assess([MINUTE], 3, [], -math.inf, 0.0)
    assert refusal is not None
    assert refusal.wait is None  # frees only after one ends, then a whole window later
    assert refusal.used == 3
    refusal = assess([MINUTE], 2, [5.0], -math.inf, 10.0)
    assert refusal is not None
    assert refusal.wait == pytest.approx(56.0)


def test_a_pause_holds_everything_back() -> None:
    refusal = assess([MINUTE], 0, [], 100.0, 10.0)
    assert refusal == Refusal(wait=90.0, binding=PAUSE, used=0, now=10.0)


def test_window_usage_and_measure() -> None:
    assert window_usage(61.0, 0, [], 0.0) == (0, None)
    assert window_usage(61.0, 1, [], 0.0) == (1, 61.0)
    assert window_usage(61.0, 0, [-100.0, 5.0, 6.0], 10.0) == (2, 66.0)
    usage = measure([MINUTE], 0, [0.0, 1.0, 2.0], -math.inf, 10.0)
    assert usage.windows == [(3, 61.0)]
    assert usage.free_in == pytest.approx(51.0)


async def test_memory_ledger_takes_releases_and_arms_the_exit_signal() -> None:
    clock = FakeClock()
    ledger = MemoryLedger(clock.wall)
    grants = [await ledger.take([MINUTE], 0.0) for _ in range(3)]
    assert isinstance(grants[0], Grant)
    refusal = await ledger.take([MINUTE], 0.0)
    assert isinstance(refusal, Refusal)
    assert refusal.exited is not None
    assert not refusal.exited.done()
    await ledger.give_back(grants[0], counted=False)  # never left: no stamp
    assert refusal.exited.done()
    assert isinstance(await ledger.take([MINUTE], 0.0), Grant)
    usage = await ledger.usage([MINUTE])
    assert usage.windows[0][0] == 3
    assert await ledger.pause(10.0) is False
    assert await ledger.pause(5.0) is True


async def test_refusal_gives_admit_s_verdict_and_takes_nothing() -> None:
    clock = FakeClock(1_000.0)
    ledger = MemoryLedger(clock.wall)
    assert ledger.refusal([MINUTE]) is None
    for _ in range(3):
        assert ledger.refusal([MINUTE]) is None
        grant = ledger.admit([MINUTE])
        assert isinstance(grant, Grant)
    refusal = ledger.refusal([MINUTE])
    assert refusal == ledger.admit([MINUTE])  # the same verdict, all three in flight
    assert refusal is not None
    assert refusal.wait is None
    for _ in range(3):
        ledger.release(counted=True)
    refusal = ledger.refusal([MINUTE])
    assert refusal is not None
    assert refusal.wait == pytest.approx(61.0)
    clock.advance(61.0)
    assert ledger.refusal([MINUTE]) is None
    assert ledger.snapshot([MINUTE]).windows[0][0] == 0  # refusal() never took a unit
