"""FakeClock: deterministic fake time with manual and automatic advance."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import datetime, timezone

import pytest

from lacale_async._clock import Clock, FakeClock, MonotonicClock
from lacale_async._errors import ValidationError
from lacale_async._options import YEAR


def test_fake_clock_is_a_clock() -> None:
    assert isinstance(FakeClock(), Clock)
    assert isinstance(MonotonicClock(), Clock)
    assert FakeClock(start=12.5).now() == 12.5


async def test_autojump_wakes_each_sleeper_at_its_exact_deadline() -> None:
    clock = FakeClock()
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, delay: float) -> None:
        await clock.sleep(delay)
        woke.append((name, clock.now()))

    started = time.monotonic()
    await asyncio.gather(sleeper("c", 30.0), sleeper("a", 10.0), sleeper("b", 20.0))
    assert woke == [("a", 10.0), ("b", 20.0), ("c", 30.0)]
    assert clock.now() == 30.0
    assert time.monotonic() - started < 1.0  # fake hours cost no real time


async def test_many_concurrent_sleepers_chained_sleeps() -> None:
    clock = FakeClock()
    finish: dict[int, float] = {}

    async def worker(i: int) -> None:
        for _ in range(3):
            await clock.sleep(1.0 + (i % 7))
        finish[i] = clock.now()

    await asyncio.gather(*(worker(i) for i in range(200)))
    assert finish == {i: 3.0 * (1.0 + (i % 7)) for i in range(200)}
    assert clock.sleepers == 0


async def test_equal_deadlines_wake_in_registration_order() -> None:
    clock = FakeClock()
    order: list[int] = []

    async def sleeper(i: int) -> None:
        await clock.sleep(5.0)
        order.append(i)

    tasks = [asyncio.create_task(sleeper(i)) for i in range(50)]
    await asyncio.gather(*tasks)
    assert order == list(range(50))


async def test_manual_advance_without_autojump() -> None:
    clock = FakeClock(auto_advance=False)
    woke: list[float] = []

    async def sleeper(delay: float) -> None:
        await clock.sleep(delay)
        woke.append(delay)

    tasks = [asyncio.create_task(sleeper(d)) for d in (1.0, 2.0, 3.0)]
    for _ in range(20):
        await asyncio.sleep(0)
    assert woke == []  # nothing moves time on its own
    assert clock.sleepers == 3
    clock.advance(2.0)
    for _ in range(5):
        await asyncio.sleep(0)
    assert woke == [1.0, 2.0]
    assert clock.now() == 2.0
    clock.advance(0.5)
    await asyncio.sleep(0)
    assert woke == [1.0, 2.0]
    clock.advance(0.5)
    await asyncio.gather(*tasks)
    assert woke == [1.0, 2.0, 3.0]


async def test_cancelled_sleeper_does_not_pull_time_forward() -> None:
    clock = FakeClock()
    far = asyncio.create_task(clock.sleep(1000.0))
    await asyncio.sleep(0)
    far.cancel()
    with pytest.raises(asyncio.CancelledError):
        await far
    await clock.sleep(3.0)
    assert clock.now() == 3.0  # jumped to the live deadline, not the cancelled one
    assert clock.sleepers == 0


async def test_zero_and_negative_sleep_yield_without_moving_time() -> None:
    clock = FakeClock()
    await clock.sleep(0)
    await clock.sleep(-5)
    await clock.sleep(float("nan"))
    assert clock.now() == 0.0


async def test_no_busy_spin_when_nobody_sleeps() -> None:
    clock = FakeClock()
    await clock.sleep(1.0)
    cpu = time.process_time()
    await asyncio.sleep(0.1)  # real time: a spinning jumper would burn this CPU
    assert time.process_time() - cpu < 0.05
    assert clock.now() == 1.0


async def test_autojump_waits_for_runnable_tasks() -> None:
    # A task that keeps computing (yielding) without touching the clock must hold time back.
    clock = FakeClock()
    seen: list[float] = []

    async def busy() -> None:
        for _ in range(500):
            seen.append(clock.now())
            await asyncio.sleep(0)

    sleeper = asyncio.create_task(clock.sleep(10.0))
    await busy()
    assert set(seen) == {0.0}
    await sleeper
    assert clock.now() == 10.0


@pytest.mark.parametrize(
    "bad",
    [
        *(None, "", "123", b"1", True, [], float("nan"), float("inf"), -float("inf"), -1, 1e300),
        pytest.param(10**5000, id="10**5000"),
    ],
)
def test_wall_start_is_checked_like_start(bad: object) -> None:
    # Once float(wall_start) unchecked: "123" passed, None raised TypeError, 10**5000
    # OverflowError, and nan or 1e300 only failed at the first budget date.
    with pytest.raises(ValidationError, match="wall_start must be a finite number"):
        FakeClock(wall_start=bad)  # type: ignore[arg-type]


# The latest start a year of key budget can follow without leaving datetime's range.
LAST_WALL = datetime(9998, 12, 31, 23, 59, 59, tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize("wall", [0, 0.0, 1_767_225_600, LAST_WALL])
def test_wall_start_accepts_any_unix_time_a_datetime_can_hold(wall: float) -> None:
    clock = FakeClock(start=5.0, wall_start=wall)
    assert clock.wall() == wall
    clock.advance(YEAR)  # the key budget adds up to a year: still a valid datetime
    assert datetime.fromtimestamp(clock.wall(), timezone.utc).year <= 9999


def test_advance_rejects_bad_values() -> None:
    clock = FakeClock()
    with pytest.raises(ValidationError):
        clock.advance(-1)
    with pytest.raises(ValidationError):
        clock.advance(float("inf"))
    with pytest.raises(ValidationError):
        FakeClock(idle_rounds=0)
    clock.advance(2.5)
    assert clock.now() == 2.5
    assert "2.5" in repr(clock)


async def test_holding_keeps_fake_time_still_while_the_sdk_awaits_a_thread() -> None:
    # The quota store's transactions run in a worker thread and read the clock: the loop
    # looks idle meanwhile, and time jumped under the decision (a burst of searches saw its
    # limiter's windows move). The thread's 50 ms are real time by nature: it is what is held.
    clock = FakeClock()
    sleeper = asyncio.ensure_future(clock.sleep(10.0))
    with clock.holding():
        seen = await asyncio.to_thread(lambda: threading.Event().wait(0.05) or clock.now())
    assert seen == 0.0
    await sleeper
    assert clock.now() == 10.0
