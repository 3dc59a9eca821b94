"""SingleFlight: one execution per key in flight, shared outcome, safe cancellation."""

from __future__ import annotations

import asyncio
import gc
import sys
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


class Shared:
    """Counts the callers that took the outcome of work another caller had started."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


async def test_thousand_concurrent_callers_share_one_execution() -> None:
    clock = FakeClock()
    shared = Shared()
    flight: SingleFlight[str] = SingleFlight(shared)
    work = Work(clock)
    results = await asyncio.gather(*(flight.do("k", work) for _ in range(1000)))
    assert work.calls == 1
    assert set(results) == {"value"}
    assert shared.count == 999  # every caller but the leader
    assert len(flight) == 0  # forgotten once done: results are not cached here
    await flight.do("k", work)
    assert work.calls == 2
    assert shared.count == 999


async def test_no_counter_is_needed() -> None:
    flight: SingleFlight[str] = SingleFlight()
    work = Work(FakeClock())
    assert list(await asyncio.gather(flight.do("k", work), flight.do("k", work))) == ["value"] * 2
    assert work.calls == 1


async def test_different_keys_run_separately() -> None:
    clock = FakeClock()
    flight: SingleFlight[str] = SingleFlight()
    work = Work(clock)
    await asyncio.gather(*(flight.do(f"k{i % 3}", work) for i in range(30)))
    assert work.calls == 3


async def test_cancelling_a_joiner_leaves_the_work_to_the_others() -> None:
    clock = FakeClock()
    shared = Shared()
    flight: SingleFlight[str] = SingleFlight(shared)
    work = Work(clock, delay=5.0)
    leader = asyncio.create_task(flight.do("k", work))
    joiner = asyncio.create_task(flight.do("k", work))
    other = asyncio.create_task(flight.do("k", work))
    await clock.sleep(1.0)
    joiner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await joiner
    assert await leader == "value"
    assert await other == "value"
    assert shared.count == 1  # the other joiner; the cancelled one took nothing
    assert work.calls == 1
    assert work.cancelled == 0
    assert clock.now() == 5.0


async def test_a_cancelled_leader_hands_the_work_to_a_joiner() -> None:
    # The leader runs the work in its own task: its cancellation cancels the work, and one of
    # the joiners runs it again (one more execution); no joiner ever sees a CancelledError.
    clock = FakeClock()
    shared = Shared()
    flight: SingleFlight[str] = SingleFlight(shared)
    work = Work(clock, delay=5.0)
    leader = asyncio.create_task(flight.do("k", work))
    joiners = [asyncio.create_task(flight.do("k", work)) for _ in range(3)]
    await clock.sleep(1.0)
    leader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leader
    results = await asyncio.gather(*joiners)
    assert results == ["value"] * 3
    assert shared.count == 2  # the joiner that ran the work again took no one's outcome
    assert work.calls == 2
    assert work.cancelled == 1
    assert clock.now() == 6.0  # the re-run started when the leader left
    assert len(flight) == 0
    assert not other_tasks()


async def test_every_caller_leaving_cancels_the_work_and_frees_the_key() -> None:
    clock = FakeClock()
    flight: SingleFlight[str] = SingleFlight()
    work = Work(clock, delay=5.0)
    callers = [asyncio.create_task(flight.do("k", work)) for _ in range(3)]
    await clock.sleep(1.0)
    for caller in callers:
        caller.cancel()
    outcomes = await asyncio.gather(*callers, return_exceptions=True)
    assert all(isinstance(o, asyncio.CancelledError) for o in outcomes)
    assert len(flight) == 0  # a newcomer must not join work that was cancelled
    late = await flight.do("k", work)
    assert late == "value"
    assert work.calls == 2
    assert work.cancelled == 1
    assert not other_tasks()


async def test_error_reaches_every_waiter_and_is_never_cached() -> None:
    clock = FakeClock()
    shared = Shared()
    flight: SingleFlight[str] = SingleFlight(shared)
    boom = NotFoundError("no such torrent", status=404)
    work = Work(clock, result=boom)
    outcomes = await asyncio.gather(
        *(flight.do("k", work) for _ in range(10)), return_exceptions=True
    )
    assert all(o is boom for o in outcomes)
    assert shared.count == 0  # an error shared is not an answer shared
    assert work.calls == 1
    assert len(flight) == 0
    work.result = "recovered"
    assert await flight.do("k", work) == "recovered"
    assert work.calls == 2


async def test_a_failure_while_cancelled_reaches_the_leader_and_is_not_reported() -> None:
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

        leader = asyncio.create_task(flight.do("k", stubborn))
        joiner = asyncio.create_task(flight.do("k", stubborn))
        await clock.sleep(1.0)
        leader.cancel()
        with pytest.raises(ValueError, match="while being cancelled"):
            await leader
        with pytest.raises(ValueError, match="while being cancelled"):
            await joiner
        del leader, joiner
        gc.collect()
        assert not other_tasks()
    finally:
        loop.set_exception_handler(None)
    assert reports == []
    assert len(flight) == 0


async def test_aclose_ends_leaders_and_joiners_with_client_state_error() -> None:
    clock = FakeClock()
    flight: SingleFlight[str] = SingleFlight()
    work = Work(clock, delay=100.0)
    callers = [asyncio.create_task(flight.do(f"k{i % 2}", work)) for i in range(6)]
    await clock.sleep(1.0)
    assert len(flight) == 2
    await flight.aclose()
    # The leaders have left the work by the time aclose returns.
    assert work.cancelled == 2
    outcomes = await asyncio.gather(*callers, return_exceptions=True)
    assert all(isinstance(o, ClientStateError) for o in outcomes)
    assert work.calls == 2
    assert not other_tasks()
    await flight.aclose()  # idempotent
    with pytest.raises(ClientStateError):
        await flight.do("k", work)
    assert "closed" in repr(flight)


async def test_aclose_takes_back_the_cancellation_it_sent_to_a_leader() -> None:
    # The leader is the caller's own task: after its ClientStateError it must not be left
    # "cancelling", or the caller's own asyncio.timeout would misread its next timeout.
    clock = FakeClock()
    flight: SingleFlight[str] = SingleFlight()
    work = Work(clock, delay=100.0)
    seen: list[object] = []

    async def caller() -> None:
        try:
            await flight.do("k", work)
        except ClientStateError as exc:
            seen.append(exc)
        task = asyncio.current_task()
        assert task is not None
        if sys.version_info >= (3, 11):
            seen.append(task.cancelling())
        await asyncio.sleep(0)  # no cancellation left pending for this task
        seen.append("went on")

    task = asyncio.create_task(caller())
    await clock.sleep(1.0)
    await flight.aclose()
    await task
    assert isinstance(seen[0], ClientStateError)
    assert seen[1:] == ([0] if sys.version_info >= (3, 11) else []) + ["went on"]


@pytest.mark.skipif(sys.version_info < (3, 11), reason="Python 3.10 counts no cancellations")
@pytest.mark.parametrize("caller_first", [False, True])
async def test_a_leaders_own_cancellation_during_aclose_stays_a_cancellation(
    caller_first: bool,
) -> None:
    clock = FakeClock()
    flight: SingleFlight[str] = SingleFlight()
    work = Work(clock, delay=100.0)
    leader = asyncio.create_task(flight.do("k", work))
    joiner = asyncio.create_task(flight.do("k", work))
    await clock.sleep(1.0)
    if caller_first:
        leader.cancel()
    closing = asyncio.create_task(flight.aclose())
    await asyncio.sleep(0)  # aclose has cancelled the leader, which has not run yet
    if not caller_first:
        leader.cancel()
    await closing
    with pytest.raises(asyncio.CancelledError):
        await leader
    with pytest.raises(ClientStateError):
        await joiner
    assert work.calls == 1


async def test_a_caller_that_starts_after_aclose_is_refused_before_any_work() -> None:
    clock = FakeClock()
    flight: SingleFlight[str] = SingleFlight()
    work = Work(clock)
    caller = asyncio.create_task(flight.do("k", work))  # created, not yet run
    await flight.aclose()
    with pytest.raises(ClientStateError):
        await asyncio.wait_for(caller, timeout=1.0)
    assert work.calls == 0
    assert len(flight) == 0
    assert not other_tasks()
