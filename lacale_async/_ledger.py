"""The key-wide budget's history: the window rule once, and the in-memory ledger.

A *ledger* holds, for one scope (key and origin), the units of the key-wide budget: units in
flight (a request between its entry and its response) and units done (stamped with their exit
time), plus a pause deadline set by an unexpected 429. Its time is wall-clock seconds, because
the long windows must survive a restart. Three ledgers exist: :class:`MemoryLedger` (this
process only), the SQLite one (``_quota_store``: restarts and processes of one machine) and the
Redis one (``fleet``: several machines, on the Redis server's clock).

The rule, as for :class:`~lacale_async.WindowLimiter`: for a window of ``calls`` per ``period``,
a unit in flight counts as "now" until it ends and then occupies the window until
``exit + period + margin``. :func:`assess` applies it to every window at once and says which
one holds the next unit back, so the budget can tell a burst window (waited out) from a spent
daily budget (refused).
"""

from __future__ import annotations

import asyncio
import bisect
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from ._gate import EPSILON, FifoGate
from ._history import ExitHistory

__all__ = [
    "PAUSE",
    "Grant",
    "Ledger",
    "MemoryLedger",
    "Refusal",
    "Span",
    "Usage",
    "assess",
    "measure",
    "window_usage",
]

Span = tuple[int, float, float]
"""``(calls, period, period + margin)``: one key window as the ledgers apply it."""

PAUSE = -1
"""The ``binding`` of a refusal caused by the 429 pause rather than by a window."""


@dataclass(frozen=True)
class Grant:
    """One unit taken: its ledger token and the ledger time it was taken at."""

    token: str
    at: float


@dataclass(frozen=True)
class Refusal:
    """Why no unit can be taken now.

    Attributes:
        wait: Seconds until the binding window (or pause) lets one in; None when every unit
            of that window is in flight (it frees at least ``period`` after one ends).
        binding: Index of the window holding the unit back, or :data:`PAUSE`.
        used: Units counted in that window (0 for a pause).
        now: The ledger's time of the decision (Unix seconds).
        exited: Resolved when a request of this process ends (armed only when that may help).
        poll: Ask again after this many seconds even if ``exited`` never fires (units in
            flight in other processes end unseen); None to wait for ``exited`` alone.
    """

    wait: float | None
    binding: int
    used: int
    now: float
    exited: asyncio.Future[None] | None = None
    poll: float | None = None


@dataclass(frozen=True)
class Usage:
    """A ledger's state at one moment.

    Attributes:
        now: The ledger's time (Unix seconds).
        pause_until: The pause deadline (``-inf`` when not paused).
        windows: Per window ``(used, next unit frees at)``.
        free_in: Seconds until one unit may be taken (at least; 0 when one may now).
    """

    now: float
    pause_until: float
    windows: list[tuple[int, float | None]]
    free_in: float


class Ledger(Protocol):
    """What the key budget needs from a ledger (memory, SQLite or Redis)."""

    gate: FifoGate
    """This process's FIFO queue in front of the ledger."""

    @property
    def where(self) -> str:
        """Where the units are kept, for messages ("memory", a file path, a Redis address)."""
        ...

    async def take(self, spans: Sequence[Span], lease: float) -> Grant | Refusal:
        """Take one unit if every window and the pause allow it, atomically."""
        ...

    async def give_back(self, grant: Grant, *, counted: bool) -> None:
        """End a unit: stamp its exit (``counted``) or drop it (the request never left)."""
        ...

    async def pause(self, seconds: float) -> bool:
        """Let no unit be taken for ``seconds``; return True if a pause was already running."""
        ...

    async def usage(self, spans: Sequence[Span]) -> Usage:
        """Return the state of every window now."""
        ...

    def attach(self, user: object) -> None:
        """Count ``user`` as using the ledger (a shared one outlives its users while it binds)."""
        ...

    async def detach(self, user: object) -> None:
        """Stop counting ``user`` (its client closed): what only it kept alive is released."""
        ...


def window_usage(
    span: float, in_flight: int, done: Sequence[float], now: float
) -> tuple[int, float | None]:
    """Return ``(used, next unit frees at)`` of one window.

    Args:
        span: The window's period plus margin.
        in_flight: Units in flight.
        done: Exit stamps, oldest first.
        now: The current ledger time.
    """
    first = bisect.bisect_right(done, now - span)
    used = in_flight + len(done) - first
    if first < len(done):
        return used, done[first] + span
    return used, (now + span if in_flight else None)


def measure(
    spans: Sequence[Span], in_flight: int, done: Sequence[float], pause_until: float, now: float
) -> Usage:
    """Return the :class:`Usage` of every window (see :func:`window_usage` and :func:`assess`)."""
    windows = [window_usage(span, in_flight, done, now) for _, _, span in spans]
    refusal = assess(spans, in_flight, done, pause_until, now)
    if refusal is None:
        free_in = 0.0
    elif refusal.wait is None:
        free_in = spans[refusal.binding][2]
    else:
        free_in = refusal.wait
    return Usage(now, pause_until, windows, free_in)


def assess(
    spans: Sequence[Span], in_flight: int, done: Sequence[float], pause_until: float, now: float
) -> Refusal | None:
    """Apply every window and the pause; return None when one more unit may go now.

    Args:
        spans: The windows.
        in_flight: Units in flight.
        done: Exit stamps, oldest first (at least the ``max(calls)`` most recent).
        pause_until: The pause deadline (``-inf`` when not paused).
        now: The current ledger time.

    Returns:
        None, or the :class:`Refusal` of the window (or pause) that holds the unit back
        longest (a fully in-flight window counts as at least its span).
    """
    worst: tuple[float, float | None, int] | None = None  # (lower bound, wait, binding)
    if pause_until - now > EPSILON:
        worst = (pause_until - now, pause_until - now, PAUSE)
    for index, (calls, _, span) in enumerate(spans):
        wait: float | None
        if in_flight >= calls:
            wait, bound = None, span
        else:
            need = calls - in_flight
            if len(done) < need:
                continue
            wait = bound = done[-need] + span - now
            if wait <= EPSILON:
                continue
        if worst is None or bound > worst[0]:
            worst = (bound, wait, index)
    if worst is None:
        return None
    _, wait, binding = worst
    used = 0 if binding == PAUSE else window_usage(spans[binding][2], in_flight, done, now)[0]
    return Refusal(wait=wait, binding=binding, used=used, now=now)


class MemoryLedger(ExitHistory):
    """Units in this process's memory: exact, event-driven, lost at exit.

    Also the mirror of the SQLite and Redis ledgers: it records their units too, so that when
    the store fails the budget goes on from what this process knows instead of from zero.

    Args:
        wall: The wall-clock reader.
        where: How messages name it.
    """

    __slots__ = ("_wall", "_where", "gate")

    def __init__(self, wall: Callable[[], float], *, where: str = "memory") -> None:
        super().__init__()
        self._wall = wall
        self._where = where
        self.gate = FifoGate()

    @property
    def where(self) -> str:
        """``"memory"``, or what the ledger mirrors."""
        return self._where

    def now(self) -> float:
        """Return the ledger's time (Unix seconds)."""
        return self._wall()

    def seed(self, done: Sequence[float], pause_until: float) -> None:
        """Start from units recorded elsewhere (a store's history), oldest first."""
        with self._lock:
            merged = sorted([*self._done, *done])
            self._done = deque(merged)
            self._pause_until = max(self._pause_until, pause_until)

    def _prune_spans_locked(self, spans: Sequence[Span], now: float) -> None:
        for calls, _, span in spans:
            self._widen_locked(calls, span)
        self._prune_locked(now)

    def attach(self, user: object) -> None:
        """Count ``user`` (a client's key budget) as using the ledger for as long as it lives."""
        with self._lock:
            self._users.add(user)

    async def detach(self, user: object) -> None:
        """Stop counting ``user``: a closed client no longer keeps the ledger."""
        with self._lock:
            self._users.discard(user)

    def idle(self) -> bool:
        """Tell whether forgetting the ledger loses nothing: no user, no unit or pause binds."""
        return self.idle_at(self._wall())

    def admit(self, spans: Sequence[Span]) -> Grant | Refusal:
        """Take a unit if allowed (synchronous; also the mirror's entry point)."""
        with self._lock:
            now = self._wall()
            refusal = self._refusal_locked(spans, now)
            if refusal is None:
                self._in_flight += 1
                return Grant("", now)
            return refusal

    def refusal(self, spans: Sequence[Span]) -> Refusal | None:
        """Return what holds one more unit back now (None: it may go); take nothing."""
        with self._lock:
            return self._refusal_locked(spans, self._wall())

    def _refusal_locked(self, spans: Sequence[Span], now: float) -> Refusal | None:
        self._prune_spans_locked(spans, now)
        refusal = assess(spans, self._in_flight, self._done, self._pause_until, now)
        if refusal is not None and refusal.wait is None:
            # Every unit of the binding window is ours and in flight: one ending helps.
            return replace(refusal, exited=self._exits.arm())
        return refusal

    def force(self) -> None:
        """Record a unit another ledger granted (the mirror: no decision of its own)."""
        with self._lock:
            self._in_flight += 1

    def release(self, *, counted: bool) -> None:
        """End a unit now (synchronous)."""
        with self._lock:
            self._exit_locked(self._wall(), counted=counted)

    def hold(self, until: float) -> float:
        """Move the pause deadline to ``until`` if later; return the previous one."""
        with self._lock:
            before = self._pause_until
            self._pause_until = max(before, until)
            return before

    def snapshot(self, spans: Sequence[Span]) -> Usage:
        """Return the usage of every window now (synchronous)."""
        with self._lock:
            now = self._wall()
            return measure(spans, self._in_flight, list(self._done), self._pause_until, now)

    async def take(self, spans: Sequence[Span], lease: float) -> Grant | Refusal:
        """Take one unit if every window and the pause allow it."""
        return self.admit(spans)

    async def give_back(self, grant: Grant, *, counted: bool) -> None:
        """End a unit: stamp its exit, or drop it when the request never left."""
        self.release(counted=counted)

    async def pause(self, seconds: float) -> bool:
        """Let no unit be taken for ``seconds``; return True if a pause was already running."""
        now = self._wall()
        return self.hold(now + seconds) > now

    async def usage(self, spans: Sequence[Span]) -> Usage:
        """Return the state of every window now."""
        return self.snapshot(spans)

    def __repr__(self) -> str:
        return f"MemoryLedger(in_flight={self._in_flight}, recent={len(self._done)})"
