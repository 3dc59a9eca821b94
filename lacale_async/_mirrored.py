"""``MirroredLedger``: a ledger kept elsewhere (a file, Redis), mirrored in this process.

The shared store decides; the in-memory mirror records every unit this process takes and
ends, and every pause, so that when the store fails the budget goes on from what this process
has counted rather than from a full budget. The subclasses say how to reach their store and
what a failure does (a warning and memory for SQLite; the fleet's ``on_redis_error`` policy for
Redis); this class holds the bookkeeping both share.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._gate import FifoGate
from ._ledger import Grant, MemoryLedger, Refusal, Span, Usage

__all__ = ["MirroredLedger"]


class MirroredLedger:
    """Base of the shared ledgers: the store first, the mirror when it cannot be used.

    Subclasses set ``errors`` and implement ``_usable``, ``_failed`` and the four store
    operations ``_take``, ``_end``, ``_hold`` and ``_read``.

    Args:
        mirror: This process's record, which takes over when the store fails.
    """

    errors: tuple[type[BaseException], ...] = ()
    """What the store raises when it fails."""

    def __init__(self, mirror: MemoryLedger) -> None:
        self._mirror = mirror
        self.gate = FifoGate()

    def attach(self, user: object) -> None:
        """Nothing to count: the store keeps the history, and the ledger is made again from it."""

    async def detach(self, user: object) -> None:
        """Nothing to release by default (a store with resources of its own overrides it)."""

    def _usable(self) -> bool:
        """False once the store failed for good (the mirror decides from then on)."""
        raise NotImplementedError

    def _failed(self, exc: BaseException, doing: str, *, ending: bool = False) -> None:
        """Apply the failure policy (``ending``: a request's answer is already in hand)."""
        raise NotImplementedError

    async def _take(self, spans: Sequence[Span], lease: float) -> Grant | Refusal:
        raise NotImplementedError

    async def _end(self, grant: Grant, counted: bool) -> None:
        raise NotImplementedError

    async def _hold(self, seconds: float) -> bool:
        raise NotImplementedError

    async def _read(self, spans: Sequence[Span]) -> Usage:
        raise NotImplementedError

    def _admitted(self, grant: Grant, lease: float) -> Grant:
        """Return the mirror's ``grant`` as given out while the store cannot be used."""
        return grant

    def _unrecorded(self, grant: Grant, counted: bool) -> None:
        """Note the end of a unit the store could not be told about (by default: lost)."""

    def _unpaused(self, until: float) -> None:
        """Note a pause the store could not be told about (by default: lost)."""

    async def take(self, spans: Sequence[Span], lease: float) -> Grant | Refusal:
        """Take one unit if every window (all processes' units) and the pause allow it."""
        if self._usable():
            try:
                result = await self._take(spans, lease)
            except self.errors as exc:
                self._failed(exc, "taking a unit of the key-wide budget")
            else:
                if isinstance(result, Grant):
                    self._mirror.force()
                return result
        result = self._mirror.admit(spans)
        return self._admitted(result, lease) if isinstance(result, Grant) else result

    async def give_back(self, grant: Grant, *, counted: bool) -> None:
        """Stamp the unit's exit (or drop it when the request never left)."""
        self._mirror.release(counted=counted)
        if not grant.token:
            return  # a unit the store never had
        if self._usable():
            try:
                await self._end(grant, counted)
            except self.errors as exc:
                self._failed(exc, "recording the end of a request", ending=True)
            else:
                return
        self._unrecorded(grant, counted)

    async def pause(self, seconds: float) -> bool:
        """Let no process take a unit for ``seconds``; True if a pause was already running."""
        now = self._mirror.now()
        before = self._mirror.hold(now + seconds)
        if self._usable():
            try:
                return await self._hold(seconds)
            except self.errors as exc:
                self._failed(exc, "recording a 429 pause")
        self._unpaused(now + seconds)
        return before > now

    async def usage(self, spans: Sequence[Span]) -> Usage:
        """Return every window's usage, every process counted."""
        if self._usable():
            try:
                return await self._read(spans)
            except self.errors as exc:
                self._failed(exc, "reading the key-wide budget")
        return self._mirror.snapshot(spans)
