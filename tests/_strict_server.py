"""A strict tracker stand-in on 127.0.0.1 that counts every arrival, per key, as the tracker does.

It answers ``GET /api/external`` (and any other path) with an empty JSON list, unless a key-wide
sliding window (several ``(calls, period)`` pairs may hold at once) is exceeded: then 429 with
``Retry-After``. Arrivals are counted the moment a request's head is parsed, *before* anything
else, so a connection reset right after counting is still a spent request (the case aiohttp's
hidden re-send used to hide). Only accepted arrivals use the window (the lenient reading: a
client that still gets 429s really did send too fast).

Resets: ``reset_at={1, 4}`` aborts the connection (no answer) on those arrivals (from 1);
``reset_rate=p`` on a random fraction ``p`` of them (seeded). ``latency=(lo, hi)`` delays each
answer by a random time in that range.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from types import TracebackType

from aiohttp import web

__all__ = ["Arrival", "StrictServer"]


@dataclass(frozen=True)
class Arrival:
    """One request as the server counted it (``time.monotonic()``, status, key)."""

    at: float
    status: int
    key: str


@dataclass
class _Window:
    calls: int
    period: float
    accepted: deque[float] = field(default_factory=deque)

    def wait(self, now: float) -> float:
        while self.accepted and self.accepted[0] <= now - self.period:
            self.accepted.popleft()
        if len(self.accepted) < self.calls:
            return 0.0
        return self.accepted[0] + self.period - now


class StrictServer:
    """A loopback aiohttp server enforcing key-wide windows strictly, counting arrivals.

    Args:
        rates: The key-wide ``(calls, period)`` windows (all must hold), or none.
        reset_at: Numbers (from 1) of the arrivals whose connection is aborted unanswered.
        reset_rate: Abort on this random fraction of arrivals.
        latency: ``(lo, hi)`` seconds of answer delay.
        seed: Seed for resets and latency.
    """

    def __init__(
        self,
        rates: Sequence[tuple[int, float]] = (),
        *,
        reset_at: Collection[int] = (),
        reset_rate: float = 0.0,
        latency: tuple[float, float] = (0.0, 0.0),
        seed: int = 7,
    ) -> None:
        self._rates = list(rates)
        self._windows: dict[str, list[_Window]] = {}
        self.reset_at = frozenset(reset_at)
        self.reset_rate = reset_rate
        self.latency = latency
        self._rng = random.Random(seed)
        self.arrivals: list[Arrival] = []
        self.resets = 0
        self._runner: web.AppRunner | None = None
        self.url = ""

    def count(self, status: int | None = None) -> int:
        """Arrivals so far (of one status when given)."""
        return sum(1 for a in self.arrivals if status is None or a.status == status)

    def _admit(self, key: str, now: float) -> tuple[int, float]:
        windows = self._windows.setdefault(key, [_Window(n, t) for n, t in self._rates])
        wait = max((w.wait(now) for w in windows), default=0.0)
        if wait > 0:
            return 429, wait
        for w in windows:
            w.accepted.append(now)
        return 200, 0.0

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        now = time.monotonic()
        key = request.headers.get("X-Api-Key") or request.query.get("apikey") or ""
        status, wait = self._admit(key, now)
        self.arrivals.append(Arrival(now, status, key))
        n = len(self.arrivals)
        reset = n in self.reset_at or (self.reset_rate and self._rng.random() < self.reset_rate)
        lo, hi = self.latency
        delay = lo + (hi - lo) * self._rng.random() if hi > 0 else 0.0
        if reset:
            self.resets += 1
            if delay:
                await asyncio.sleep(delay / 2)
            assert request.transport is not None
            request.transport.abort()
            return web.Response(status=500)  # never reaches the client
        if delay:
            await asyncio.sleep(delay)
        if status == 429:
            return web.json_response(
                {"error": "Too many requests"},
                status=429,
                headers={"Retry-After": str(max(1, int(wait + 0.999)))},
            )
        return web.json_response([])

    async def start(self) -> StrictServer:
        """Bind a free port on 127.0.0.1 and serve."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        """Stop serving."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> StrictServer:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
