"""``RedisLimiter``: the local limiter's window guarantee, held across processes through Redis.

The guarantee is the one of :class:`lacale_async.WindowLimiter` (read its module docstring):
for every ``(N, T)``, no window of ``T`` seconds ever holds more than ``N`` requests of one
scope and endpoint *as the tracker sees their arrivals*, now whichever process sent them.
A slot counts as "now" while its request runs and is stamped at its exit (response received),
after which it frees at ``exit + T + margin``.

Why a Lua script and not ``limits``' ``MovingWindowRateLimiter`` (evaluated, version 5.x):

* it stamps entries with the *client's* ``time.time()``: on hosts whose clocks disagree by
  100 ms, a 1 s window is off by 10 % and arrivals can exceed the limit. The script reads the
  Redis server's ``TIME``: one clock for the whole fleet, so client skew cannot matter;
* it stamps a request when it is let in, never when it ends, so a slow request leaves the
  window before the server has counted it: there is no notion of a slot in flight;
* each rate is a separate key and call: several rates cannot be tested and taken at once;
* windows are whole seconds (``RateLimitItem`` granularity), and a refusal does not say how
  long to wait, so waiters would have to poll blindly.

The script (one atomic call) reclaims slots whose holder vanished, reads the pause deadline,
checks every rate and either takes a slot or returns the exact wait, which the caller sleeps.
Within one process, waiters queue on a lock so only the head of the queue polls Redis; across
processes there is no FIFO order, but nobody spins: every refusal names its own wait.

A slot taken in Redis carries a lease (``slot_lease``): if its process dies mid-request, the
slot counts as finished when the lease ends, so a crash costs one slot for the lease and never
blocks the endpoint for good. The lease must be longer than the client's ``timeout``.

Every slot taken in Redis is also recorded, on the client's clock, in the log of the
in-process fallback (admitted at entry, stamped at exit): if Redis fails under
``on_redis_error="local"``, the fallback starts from this process's own recent requests instead
of an empty window, so one process alone never bursts past the tracker's limit.

Redis's ``TIME`` is the Redis host's wall clock: a step of that clock (not a slew, which is
what NTP does) shifts the windows. The margin absorbs the rest: Redis time is read after the
response arrived and before the request leaves, so it brackets the tracker's arrival stamp.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import secrets
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from types import TracebackType

from .._clock import Clock
from .._errors import ClientStateError
from .._limiter import Rate, RateLimiter, WindowLog, default_margin, parse_rates
from ._failure import REDIS_ERRORS, reply_items, reply_number
from ._limiter_lua import ACQUIRE, PAUSE, RELEASE
from ._link import RedisLink

__all__ = ["RedisLimiter"]

logger = logging.getLogger("lacale_async.fleet")

# Shortest sleep between two polls: a wait Redis rounds to a microsecond must not turn into a
# burst of calls.
_MIN_SLEEP = 0.001


class RedisLimiter:
    """A :class:`RateLimiter` whose window and 429 pause live in Redis, shared by processes.

    Built by :meth:`RedisBackend.limiter`, not directly. Time comes from the Redis server (one
    clock for every process); waits are real sleeps, so the client's ``clock`` only drives the
    in-process fallback used after a Redis failure under ``on_redis_error="local"``.

    Args:
        link: The backend's connection and failure policy.
        scope: The opaque key-and-origin scope.
        endpoint: The endpoint name (``"search"``...).
        rates: The ``(calls, period)`` pairs that must all hold.
        fallback: The in-process limiter used once the backend has gone local.
        clock: The fallback's clock, which stamps the mirror of Redis slots kept in
            ``mirror``.
        mirror: The fallback's history (its :class:`WindowLog`), which also records every
            slot taken in Redis; None when the fallback keeps no such log.

    Raises:
        ConfigurationError: A rate is invalid.
    """

    __slots__ = (
        "_acquire_script",
        "_args",
        "_clock",
        "_endpoint",
        "_fallback",
        "_forgot",
        "_gate",
        "_granted",
        "_keys",
        "_link",
        "_mirror",
        "_pause_script",
        "_rates",
        "_release_script",
        "_span",
        "_windows",
    )

    def __init__(
        self,
        link: RedisLink,
        *,
        scope: str,
        endpoint: str,
        rates: Sequence[Rate],
        fallback: RateLimiter,
        clock: Clock,
        mirror: WindowLog | None,
    ) -> None:
        checked = parse_rates(rates, name=f"{endpoint}_rate")
        self._rates = tuple((n, t) for n, t in checked)
        spans = [(n, t + default_margin(t)) for n, t in checked]
        self._span = max(span for _, span in spans)
        self._args: list[str | int] = []
        for calls, span in spans:
            self._args += [calls, f"{span:.6f}"]
        self._link = link
        self._endpoint = endpoint
        self._fallback = fallback
        self._clock = clock
        self._mirror = mirror
        # What this process was granted, by Redis's clock: enough to fill its largest window.
        self._windows = tuple(spans)
        self._granted: collections.deque[float] = collections.deque(maxlen=max(n for n, _ in spans))
        self._forgot = False  # said once that Redis lost the window
        self._keys = [link.key(scope, "rl", endpoint, part) for part in ("busy", "done", "pause")]
        self._keys.append(link.key(scope, "rl", endpoint, "span"))
        # Only the head of this process's queue polls Redis; the others wait their turn here.
        self._gate = asyncio.Lock()
        # Registered once: calls go by SHA and reload the script if Redis lost it.
        self._acquire_script = link.client.register_script(ACQUIRE)
        self._release_script = link.client.register_script(RELEASE)
        self._pause_script = link.client.register_script(PAUSE)

    @property
    def rates(self) -> list[Rate]:
        """The ``(calls, period)`` pairs this limiter enforces."""
        return list(self._rates)

    @property
    def fallback(self) -> RateLimiter:
        """The in-process limiter used after Redis failed under ``on_redis_error="local"``."""
        return self._fallback

    def slot(self) -> AbstractAsyncContextManager[None]:
        """Return a context manager holding one slot, in Redis, while the request runs.

        Entering may raise :class:`BackendError` (Redis failed under ``"fail"``) or
        :class:`ClientStateError` (the backend was closed). Leaving never raises for Redis: a
        slot whose exit cannot be recorded frees when its lease ends.

        Returns:
            An async context manager: entering waits for the budget, leaving stamps the exit.
        """
        return _RedisSlot(self)

    async def pause(self, seconds: float) -> None:
        """Let nobody in, in any process of this scope, for ``seconds`` from now.

        Args:
            seconds: Pause length; NaN and values ``<= 0`` are ignored.

        Raises:
            BackendError: Redis failed and ``on_redis_error`` is ``"fail"``.
        """
        if not seconds > 0:
            return
        # Also held locally, so the pause survives a fall back to the in-process limiter.
        await self._fallback.pause(seconds)
        link = self._link
        if link.policy.degraded:
            return
        link.check_open()
        try:
            await self._pause_script(keys=[self._keys[2]], args=[f"{seconds:.6f}"])
        except REDIS_ERRORS as exc:
            link.policy.failed(exc, f"sharing a 429 pause of {self._endpoint}")

    async def _try(self, token: str) -> tuple[bool, float]:
        link = self._link
        reply = await self._acquire_script(
            keys=self._keys, args=[token, f"{link.lease:.6f}", f"{self._span:.6f}", *self._args]
        )
        reply = reply_items(reply, 2)
        taken = reply_number(reply[0]) == 1
        # Refused: the seconds to wait, where a corrupt key could ask for forever.
        return taken, reply_number(reply[1], wait=not taken)

    async def _exit(self, token: str) -> None:
        link = self._link
        await self._release_script(
            keys=[self._keys[0], self._keys[1], self._keys[3]],
            args=[token, f"{link.lease:.6f}", f"{self._span:.6f}"],
        )

    async def _release_if_taken(self, call: asyncio.Task[tuple[bool, float]], token: str) -> None:
        try:
            taken, _ = await call
            if taken:
                await self._exit(token)
        except REDIS_ERRORS:
            pass  # the lease frees the slot

    async def acquire(self) -> str | None:
        """Wait for a slot in Redis; return its token, or None once the backend went local.

        A slot taken is also counted in the fallback's log (when it keeps one), synchronously
        right after Redis granted it: no cancellation can come between. Prefer :meth:`slot`.
        """
        link = self._link
        async with self._gate:
            token = secrets.token_hex(12)
            while not link.policy.degraded:
                link.check_open()
                # Shielded: cancelling a waiter must not lose a slot the script already took.
                call = link.tasks.spawn(self._try(token))
                try:
                    taken, wait = await asyncio.shield(call)
                except asyncio.CancelledError:
                    link.tasks.spawn(self._release_if_taken(call, token))
                    raise
                except REDIS_ERRORS as exc:
                    link.policy.failed(exc, f"waiting for a {self._endpoint} rate-limit slot")
                    return None
                if taken:
                    # On a grant, the script's number is Redis's clock.
                    forgot = self._forgotten(wait)
                    if forgot > 0:
                        await self._wait_forgotten(token, forgot)
                    if self._mirror is not None:
                        self._mirror.admit()
                    self._granted.append(wait + forgot)
                    return token
                await asyncio.sleep(max(wait, _MIN_SLEEP))
        return None

    def _forgotten(self, now: float) -> float:
        """Seconds this process's own grants (Redis's clock) still leave a window full at ``now``.

        Zero unless Redis forgot the window (FLUSHALL, an eviction, a restart without
        persistence): what it granted, this process alone had already filled. A grant's time
        is before its request's exit, which Redis counts, so this never waits when Redis did
        not forget. Redis's clock on both sides: no skew with the process's own clock.
        """
        granted = self._granted
        wait = 0.0
        for calls, span in self._windows:
            if len(granted) >= calls:
                wait = max(wait, granted[-calls] + span - now)
        return wait

    async def _wait_forgotten(self, token: str, seconds: float) -> None:
        """Hold the granted slot ``seconds`` more, saying once that Redis lost the window."""
        if not self._forgot:
            self._forgot = True
            logger.warning(
                "Redis at %s let a %s request in that this process's own recent requests "
                "leave no room for: it lost the shared rate-limit window (FLUSHALL, an "
                "eviction, a restart without persistence). Waiting by this process's own "
                "count; other processes' recent requests are not counted until the window "
                "passes",
                self._link.policy.where,
                self._endpoint,
            )
        try:
            await asyncio.sleep(seconds)
        except BaseException:
            if not self._link.closed:
                self._link.tasks.spawn(self._exit(token))  # the slot, ended unused
            raise

    async def release(self, token: str) -> None:
        """End the slot ``token`` taken by :meth:`acquire`, stamped now.

        The fallback's log is stamped first, so a cancelled exit still frees it; a Redis
        failure here never raises (the slot frees when its lease ends).
        """
        if self._mirror is not None:
            self._mirror.release(self._clock.now())
        link = self._link
        if link.closed:
            return  # the lease frees the slot; a closed client must not reconnect
        call = link.tasks.spawn(self._exit(token))
        try:
            await asyncio.shield(call)
        except REDIS_ERRORS as exc:
            if link.policy.on_error == "local":
                link.policy.failed(exc, f"ending a {self._endpoint} request")
            else:
                # Raising here would throw away a response the tracker already sent.
                logger.warning(
                    "Redis at %s failed while ending a %s request (%s); its slot frees when "
                    "its lease ends",
                    link.policy.where,
                    self._endpoint,
                    link.policy.describe(exc),
                )

    def __repr__(self) -> str:
        return f"RedisLimiter(name={self._endpoint!r}, rates={self.rates!r})"


class _RedisSlot:
    """One request's occupancy of a :class:`RedisLimiter` (entered at most once)."""

    __slots__ = ("_entered", "_limiter", "_local", "_token")

    def __init__(self, limiter: RedisLimiter) -> None:
        self._limiter = limiter
        self._entered = False
        self._token: str | None = None
        self._local: AbstractAsyncContextManager[None] | None = None

    async def __aenter__(self) -> None:
        if self._entered:
            raise ClientStateError("a rate-limit slot cannot be entered twice")
        self._entered = True
        limiter = self._limiter
        token = await limiter.acquire()
        if token is not None:
            self._token = token
            return
        # Redis failed under on_redis_error="local": the request still passes a limiter.
        local = limiter.fallback.slot()
        await local.__aenter__()
        self._local = local

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._local is not None:
            await self._local.__aexit__(exc_type, exc, tb)
        elif self._token is not None:
            await self._limiter.release(self._token)
