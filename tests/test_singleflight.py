"""SingleFlight: one execution per key in flight, shared outcome, safe cancellation."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest

from lacale_async._clock import FakeClock
from lacale_async._errors import ClientStateError, NotFoundError
from lacale_async._singleflight import SingleFlight


class Work:
    """A fake fetch that counts its runs and records how each ended."""

    def __init__(self, clock: FakeClock, delay: float = 1.0, result: Any = "value") -> None:
        self.clock = clock
        self.delay = delay
        self.result = result
        self.calls = 0
        self.cancelled = 0

    async def __call__(self) -> Any:
        self.calls += 1
        try:
            await self.clock.sleep(self.delay)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result


def other_tasks() -> set[asyncio.Task[Any]]:
    return asyncio.all_tasks() - {asyncio.current_task()}


async def test_thousand_concurrent_callers_share_one_execution() -> None:
    clock = FakeClock()
    flight: SingleFlight[str] = SingleFlight()
    work = Work(clock)
    results = await asyncio.gather(*(flight.do("k", work) for _ in range(1000)))
    assert work.calls == 1
    assert {value for value, _ in results} == {"value"}
    assert sum(1 for _, shared in results if not shared) == 1
    assert len(flight) == 0  # forgotten once done: results are not cached here
    await flight.do("k", work)
    assert work.calls == 2


async def test_different_keys_run_separately() -> None:
    clock = FakeClock()
    flight: SingleFlight[str] = SingleFlight()
    work = Work(clock)
    await asyncio.gather(*(flight.do(f"k{i % 3}", work) for i in range(30)))
    assert work.calls == 3


async def test_cancelling_one_waiter_leaves_the_work_to_the_others() -> None:
    clock = FakeClock()
    flight: SingleFlight[str] = SingleFlight()
    work = Work(clock, delay=5.0)
    first = asyncio.create_task(flight.do("k", work))
    second = asyncio.create_task(flight.do("k", work))
    await clock.sleep(1.0)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await second == ("value", True)
    assert work.calls == 1
    assert work.cancelled == 0
    assert clock.now() == 5.0


async def test_last_waiter_leaving_cancels_the_work_and_frees_the_key() -> None:
    clock = FakeClock()
    flight: SingleFlight[str] = SingleFlight()
    work = Work(clock, delay=5.0)
    waiters = [asyncio.create_task(flight.do("k", work)) for _ in range(3)]
    await clock.sleep(1.0)
    for w in waiters:
        w.cancel()
    await asyncio.gather(*waiters, return_exceptions=True)
    assert len(flight) == 0  # a newcomer must not join work being cancelled
    late = await flight.do("k", work)
    assert late == ("value", False)
    assert work.calls == 2
    assert work.cancelled == 1
    assert not other_tasks()


async def test_error_reaches_every_waiter_and_is_never_cached() -> None:
    clock = FakeClock()
    flight: SingleFlight[str] = SingleFlight()
    boom = NotFoundError("no such torrent", status=404)
    work = Work(clock, result=boom)
    outcomes = await asyncio.gather(
        *(flight.do("k", work) for _ in range(10)), return_exceptions=True
    )
    assert all(o is boom for o in outcomes)
    assert work.calls == 1
    assert len(flight) == 0
    work.result = "recovered"
    assert await flight.do("k", work) == ("recovered", False)
    assert work.calls == 2


async def test_unobserved_failure_is_not_reported_as_never_retrieved() -> None:
    loop = asyncio.get_running_loop()
    reports: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, ctx: reports.append(ctx))
    try:
        clock = FakeClock()
        flight: SingleFlight[str] = SingleFlight()

        async def stubborn() -> str:
            try:
                await clock.sleep(5.0)
            except asyncio.CancelledError:
                raise ValueError("failed while being cancelled") from None
            return "never"

        waiter = asyncio.create_task(flight.do("k", stubborn))
        await clock.sleep(1.0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        for _ in range(5):
            await asyncio.sleep(0)
        del waiter
        gc.collect()
        assert not other_tasks()
    finally:
        loop.set_exception_handler(None)
    assert reports == []


async def test_aclose_cancels_work_in_flight_and_leaks_no_task() -> None:
    clock = FakeClock()
    flight: SingleFlight[str] = SingleFlight()
    work = Work(clock, delay=100.0)
    waiters = [asyncio.create_task(flight.do(f"k{i % 2}", work)) for i in range(6)]
    await clock.sleep(1.0)
    assert len(flight) == 2
    await flight.aclose()
    outcomes = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(o, ClientStateError) for o in outcomes)
    assert work.cancelled == 2
    assert not other_tasks()
    await flight.aclose()  # idempotent
    with pytest.raises(ClientStateError):
        await flight.do("k", work)
    assert "closed" in repr(flight)


async def test_aclose_before_the_work_starts_still_releases_its_waiters() -> None:
    clock = FakeClock()
    flight: SingleFlight[str] = SingleFlight()
    work = Work(clock)
    waiter = asyncio.create_task(flight.do("k", work))
    await asyncio.sleep(0)  # the waiter has started the work's task, which has not run yet
    await flight.aclose()
    with pytest.raises(ClientStateError):
        await asyncio.wait_for(waiter, timeout=1.0)
    assert work.calls == 0
    assert len(flight) == 0
    assert not other_tasks()
