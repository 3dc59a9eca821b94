"""``MirroredLedger``: the shared store decides, the in-memory mirror keeps in step with it.

The store is a scripted fake (a subclass setting ``errors`` and the hooks, as the SQLite and
Redis ledgers do) that records every call and fails on demand; the mirror is a real
:class:`MemoryLedger` on a :class:`FakeClock`'s wall time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest

from lacale_async import FakeClock
from lacale_async._gate import FifoGate
from lacale_async._ledger import Grant, MemoryLedger, Refusal, Span, Usage
from lacale_async._mirrored import MirroredLedger

SPANS: list[Span] = [(3, 60.0, 60.25)]


class StoreFailed(OSError):
    """What the fake store raises when told to fail."""


class FakeStore(MirroredLedger):
    """A store that grants tokens ``t0``, ``t1``..., fails while ``failing``, records calls."""

    errors = (StoreFailed,)

    def __init__(self, mirror: MemoryLedger, *, gives_up: bool = False) -> None:
        super().__init__(mirror)
        self.usable = True
        self.failing = False
        self.gives_up = gives_up  # a failure is for good (the SQLite ledger on damage)
        self.calls: list[tuple[object, ...]] = []
        self.refuse = False

    def _usable(self) -> bool:
        return self.usable

    def _failed(self, exc: BaseException, doing: str, *, ending: bool = False) -> None:
        self.calls.append(("failed", doing, ending))
        if self.gives_up:
            self.usable = False

    def _fail_if_told(self) -> None:
        if self.failing:
            raise StoreFailed("the disk went away")

    async def _take(self, spans: Sequence[Span], lease: float) -> Grant | Refusal:
        self.calls.append(("take", lease))
        self._fail_if_told()
        if self.refuse:
            return Refusal(wait=5.0, binding=0, used=3, now=self._mirror.now())
        return Grant(f"t{len(self.calls)}", self._mirror.now())

    async def _end(self, grant: Grant, counted: bool) -> None:
        self.calls.append(("end", grant.token, counted))
        self._fail_if_told()

    async def _hold(self, seconds: float) -> bool:
        self.calls.append(("hold", seconds))
        self._fail_if_told()
        return False  # the store's own answer, whatever the mirror knows

    async def _read(self, spans: Sequence[Span]) -> Usage:
        self.calls.append(("read",))
        self._fail_if_told()
        return Usage(now=-1.0, pause_until=-math.inf, windows=[(99, None)], free_in=0.0)

    def _admitted(self, grant: Grant, lease: float) -> Grant:
        self.calls.append(("admitted", lease))
        return Grant("mirror-made", grant.at)

    def _unrecorded(self, grant: Grant, counted: bool) -> None:
        self.calls.append(("unrecorded", grant.token, counted))

    def _unpaused(self, until: float) -> None:
        self.calls.append(("unpaused", until))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def mirror(clock: FakeClock) -> MemoryLedger:
    return MemoryLedger(clock.wall)


def used(ledger: MemoryLedger) -> int:
    return ledger.snapshot(SPANS).windows[0][0]


async def test_a_grant_of_the_store_is_recorded_by_the_mirror(mirror: MemoryLedger) -> None:
    store = FakeStore(mirror)
    grant = await store.take(SPANS, 40.0)
    assert grant == Grant("t1", mirror.now())
    assert store.calls == [("take", 40.0)]
    assert used(mirror) == 1  # in flight in the mirror too


async def test_a_refusal_of_the_store_is_returned_and_the_mirror_takes_nothing(
    mirror: MemoryLedger,
) -> None:
    store = FakeStore(mirror)
    store.refuse = True
    refusal = await store.take(SPANS, 40.0)
    assert isinstance(refusal, Refusal)
    assert (refusal.wait, refusal.used) == (5.0, 3)
    assert used(mirror) == 0


async def test_after_a_store_failure_the_budget_goes_on_from_the_mirrors_count(
    mirror: MemoryLedger,
) -> None:
    store = FakeStore(mirror, gives_up=True)
    for _ in range(2):
        assert isinstance(await store.take(SPANS, 40.0), Grant)
    store.failing = True
    third = await store.take(SPANS, 40.0)
    assert third == Grant("mirror-made", mirror.now())  # decided by the mirror, via _admitted
    assert store.calls[-3:] == [
        ("take", 40.0),
        ("failed", "taking a unit of the key-wide budget", False),
        ("admitted", 40.0),
    ]
    fourth = await store.take(SPANS, 40.0)  # never a full budget after the failure
    assert isinstance(fourth, Refusal)
    assert fourth.wait is None  # all three units are this process's, in flight
    assert fourth.exited is not None  # so one of them ending wakes the waiter
    assert sum(1 for call in store.calls if call[0] == "take") == 3  # the store is let be


async def test_a_store_that_fails_once_is_asked_again_next_time(mirror: MemoryLedger) -> None:
    store = FakeStore(mirror)  # a transient failure (a locked file): still usable
    store.failing = True
    assert await store.take(SPANS, 40.0) == Grant("mirror-made", mirror.now())
    store.failing = False
    assert await store.take(SPANS, 40.0) == Grant("t4", mirror.now())
    assert used(mirror) == 2


async def test_an_error_the_store_does_not_declare_is_raised(mirror: MemoryLedger) -> None:
    store = FakeStore(mirror)

    async def broken(spans: Sequence[Span], lease: float) -> Grant | Refusal:
        raise RuntimeError("a bug, not a store failure")

    store._take = broken  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="a bug"):
        await store.take(SPANS, 40.0)
    assert store.calls == []  # no failure policy applied, no mirror decision
    assert used(mirror) == 0


async def test_an_end_goes_to_the_mirror_and_the_store(
    clock: FakeClock, mirror: MemoryLedger
) -> None:
    store = FakeStore(mirror)
    kept, dropped = await store.take(SPANS, 40.0), await store.take(SPANS, 40.0)
    assert isinstance(kept, Grant)
    assert isinstance(dropped, Grant)
    clock.advance(10.0)
    await store.give_back(kept, counted=True)
    await store.give_back(dropped, counted=False)
    assert store.calls[-2:] == [("end", kept.token, True), ("end", dropped.token, False)]
    # The mirror stamps the counted exit now and forgets the unit that never left.
    assert mirror.snapshot(SPANS).windows == [(1, mirror.now() + 60.25)]


async def test_the_end_of_a_unit_the_store_never_had_stays_in_memory(
    mirror: MemoryLedger,
) -> None:
    store = FakeStore(mirror)
    store.failing = True
    grant = await store.take(SPANS, 40.0)
    assert isinstance(grant, Grant)
    store.failing = False
    await store.give_back(Grant("", grant.at), counted=True)  # the mirror's own grant
    assert not any(call[0] in ("end", "unrecorded") for call in store.calls)
    assert used(mirror) == 1  # its exit stamp


async def test_an_end_the_store_cannot_record_is_handed_to_unrecorded(
    mirror: MemoryLedger,
) -> None:
    store = FakeStore(mirror, gives_up=True)
    first, second = await store.take(SPANS, 40.0), await store.take(SPANS, 40.0)
    assert isinstance(first, Grant)
    assert isinstance(second, Grant)
    store.failing = True
    await store.give_back(first, counted=True)
    assert store.calls[-3:] == [
        ("end", first.token, True),
        ("failed", "recording the end of a request", True),  # the answer is in hand
        ("unrecorded", first.token, True),
    ]
    await store.give_back(second, counted=False)  # the store is let be from now on
    assert store.calls[-1] == ("unrecorded", second.token, False)
    assert used(mirror) == 1


async def test_a_pause_holds_the_mirror_and_returns_the_stores_answer(
    clock: FakeClock, mirror: MemoryLedger
) -> None:
    store = FakeStore(mirror)
    await mirror.pause(600.0)  # the mirror knew of a pause the store does not report
    assert await store.pause(30.0) is False  # the store decides
    assert store.calls == [("hold", 30.0)]
    clock.advance(700.0)
    assert await store.pause(30.0) is False
    refusal = mirror.admit(SPANS)
    assert isinstance(refusal, Refusal)
    assert refusal.wait == pytest.approx(30.0)  # held in the mirror too, for a failure later


async def test_a_pause_the_store_cannot_record_is_decided_by_the_mirror(
    clock: FakeClock, mirror: MemoryLedger
) -> None:
    store = FakeStore(mirror)
    store.failing = True
    assert await store.pause(60.0) is False  # no pause was running
    assert store.calls == [
        ("hold", 60.0),
        ("failed", "recording a 429 pause", False),
        ("unpaused", mirror.now() + 60.0),
    ]
    clock.advance(10.0)
    assert await store.pause(5.0) is True  # the mirror's pause still runs
    assert mirror.snapshot(SPANS).pause_until == mirror.now() + 50.0  # never shortened


async def test_usage_is_the_stores_and_the_mirrors_once_it_fails(mirror: MemoryLedger) -> None:
    store = FakeStore(mirror)
    assert isinstance(await store.take(SPANS, 40.0), Grant)
    assert (await store.usage(SPANS)).windows == [(99, None)]
    store.failing = True
    usage = await store.usage(SPANS)
    assert store.calls[-1] == ("failed", "reading the key-wide budget", False)
    assert usage.windows == [(1, mirror.now() + 60.25)]  # its unit in flight
    assert usage.now == mirror.now()


async def test_the_base_shares_nothing_but_a_gate_and_leaves_the_store_to_subclasses(
    mirror: MemoryLedger,
) -> None:
    bare = MirroredLedger(mirror)
    assert isinstance(bare.gate, FifoGate)
    assert bare.gate is not mirror.gate  # its own queue, in front of the store
    bare.attach(object())
    await bare.detach(object())
    assert bare._admitted(Grant("", 1.0), 40.0) == Grant("", 1.0)
    with pytest.raises(NotImplementedError):
        await bare.take(SPANS, 40.0)
    assert used(mirror) == 0
