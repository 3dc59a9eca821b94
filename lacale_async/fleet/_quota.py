"""``RedisLedger``: the key-wide budget of a fleet, in Redis, on the Redis server's clock.

The same rule as every ledger (read ``lacale_async._ledger``), applied by one Lua script per
attempt so that "count every window, then take a unit" is atomic across the fleet, with the
Redis server's ``TIME`` as the one clock (client skew cannot matter; the budget is wall-clock
time, so it also survives restarts of every worker). Units in flight carry a lease like the
endpoint slots of ``fleet._limiter``: a worker that dies mid-request costs its unit until the
lease ends, never a stuck budget. A 429 pause is a key with its deadline.

Every unit is mirrored in an in-process :class:`~lacale_async._ledger.MemoryLedger`, so under
``on_redis_error="local"`` the budget goes on from what this process counted instead of from
zero, and a Redis that lost the budget (a grant this process's own units leave no room for)
is overruled by that count rather than trusted with a fresh day. ``quota_store`` does not
apply: the fleet has one shared store, Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
from collections.abc import Sequence

from .._ledger import PAUSE, Grant, MemoryLedger, Refusal, Span, Usage, measure
from .._mirrored import MirroredLedger
from ._failure import REDIS_ERRORS, reply_number, reply_text
from ._limiter_lua import RECLAIM_LUA
from ._link import RedisLink

__all__ = ["RedisLedger"]

logger = logging.getLogger("lacale_async.fleet")

# How often a waiter asks again when every unit of a window is in flight somewhere.
_POLL = 1.0

# KEYS: 1 units in flight (token -> lease end), 2 units done (token -> exit), 3 pause deadline.
# ARGV: 1 token, 2 lease, 3 longest span, then (calls, span) pairs.
# Returns {1, now} when a unit is taken, else {0, wait (-1: after an exit), window index
# (-1: the pause), used, now}; numbers as strings since Redis truncates Lua numbers.
_TAKE = (
    RECLAIM_LUA
    + """
local lease = tonumber(ARGV[2])
local horizon = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('(%.6f', now - horizon))
local busy = redis.call('ZCARD', KEYS[1])
local best, wait, index, used = -1, 0, -2, 0
local pause = redis.call('GET', KEYS[3])
if pause and tonumber(pause) - now > 0.000001 then
  best = tonumber(pause) - now
  wait = best
  index = -1
end
local n = 0
for i = 4, #ARGV, 2 do
  local calls = tonumber(ARGV[i])
  local span = tonumber(ARGV[i + 1])
  local bound, w = nil, nil
  if busy >= calls then
    bound, w = span, -1
  else
    local e = redis.call('ZREVRANGE', KEYS[2], calls - busy - 1, calls - busy - 1, 'WITHSCORES')
    if #e == 2 and tonumber(e[2]) + span - now > 0.000001 then
      bound = tonumber(e[2]) + span - now
      w = bound
    end
  end
  if bound and bound > best then
    best, wait, index = bound, w, n
    used = busy + redis.call('ZCOUNT', KEYS[2], string.format('(%.6f', now - span), '+inf')
  end
  n = n + 1
end
if index ~= -2 then
  return {0, string.format('%.6f', wait), index, used, string.format('%.6f', now)}
end
local ttl = math.ceil((horizon + lease) * 1000)
redis.call('ZADD', KEYS[1], string.format('%.6f', now + lease), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
return {1, string.format('%.6f', now)}
"""
)

# KEYS: 1 in flight, 2 done. ARGV: 1 token, 2 counted (1/0), 3 longest span.
_GIVE_BACK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREM', KEYS[1], ARGV[1])
if ARGV[2] == '1' then
  redis.call('ZADD', KEYS[2], string.format('%.6f', now), ARGV[1])
  redis.call('PEXPIRE', KEYS[2], math.ceil(tonumber(ARGV[3]) * 1000) + 1000)
end
return 1
"""

# KEYS: 1 pause. ARGV: 1 seconds. Returns 1 when a pause was already running.
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local deadline = now + tonumber(ARGV[1])
if deadline > current then
  redis.call('SET', KEYS[1], string.format('%.6f', deadline), 'PX',
             math.ceil(tonumber(ARGV[1]) * 1000) + 1)
end
if current > now then return 1 end
return 0
"""

# KEYS: 1 in flight, 2 done, 3 pause. ARGV: 1 longest span.
# Returns {now, pause or '', lease ends of units in flight..., '|', exit stamps...}.
_READ = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local out = {string.format('%.6f', now), redis.call('GET', KEYS[3]) or ''}
for _, v in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')) do
  table.insert(out, v)
end
table.insert(out, '|')
local since = string.format('(%.6f', now - tonumber(ARGV[1]))
for _, v in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], since, '+inf', 'WITHSCORES')) do
  table.insert(out, v)
end
return out
"""


def _parse_read(reply: Sequence[object]) -> tuple[float, float, int, list[float]]:
    """Return (now, pause, units in flight, exit stamps oldest first) from ``_READ``."""
    items = [reply_text(v) for v in reply]
    now = reply_number(items[0])
    pause = reply_number(items[1]) if items[1] else -math.inf
    split = items.index("|")
    leases = [reply_number(score) for score in items[3:split:2]]
    in_flight = sum(1 for end in leases if end > now)
    # A unit whose lease ended counts as done at the lease end (its worker vanished).
    stamps = [reply_number(score) for score in items[split + 2 :: 2]]
    done = sorted([*(end for end in leases if end <= now), *stamps])
    return now, pause, in_flight, done


def _stricter(shared: Usage, mine: Usage) -> Usage:
    """Per window the larger count: Redis's, or this process's own where Redis forgot it."""
    windows = [m if m[0] > s[0] else s for s, m in zip(shared.windows, mine.windows, strict=True)]
    return Usage(
        shared.now,
        max(shared.pause_until, mine.pause_until),
        windows,
        max(shared.free_in, mine.free_in),
    )


class RedisLedger(MirroredLedger):
    """The key budget of one scope in Redis, mirrored in this process.

    Built by :meth:`RedisBackend.key_ledger`, not directly.

    Args:
        link: The backend's connection and failure policy.
        scope: The opaque key-and-origin scope.
        mirror: This process's record, used once the backend has gone local.
    """

    errors = REDIS_ERRORS

    def __init__(self, link: RedisLink, *, scope: str, mirror: MemoryLedger) -> None:
        super().__init__(mirror)
        self._link = link
        self._keys = [link.key(scope, "kb", part) for part in ("busy", "done", "pause")]
        self._take_script = link.client.register_script(_TAKE)
        self._end_script = link.client.register_script(_GIVE_BACK)
        self._pause_script = link.client.register_script(_PAUSE)
        self._read_script = link.client.register_script(_READ)
        self._horizon = 0.0  # longest window + margin seen: how long exits must be kept
        self._forgot = False  # said once that Redis lost the budget

    @property
    def where(self) -> str:
        """The Redis server (the mirror's name once it failed under ``"local"``)."""
        return (
            "memory (Redis failed)"
            if self._link.policy.degraded
            else f"Redis at {self._link.policy.where}"
        )

    def _usable(self) -> bool:
        return not self._link.policy.degraded

    def _failed(self, exc: BaseException, doing: str, *, ending: bool = False) -> None:
        if ending and self._link.policy.on_error == "fail":
            return  # raising would throw away an answer the tracker sent; the lease ends it
        self._link.policy.failed(exc, doing)

    async def _try(self, token: str, spans: Sequence[Span], lease: float) -> Grant | Refusal:
        self._horizon = max(self._horizon, *(s for _, _, s in spans))
        args: list[str | int] = [token, f"{lease:.6f}", f"{self._horizon:.6f}"]
        for calls, _, span in spans:
            args += [calls, f"{span:.6f}"]
        reply = await self._take_script(keys=self._keys, args=args)
        if int(reply[0]) == 1:
            return Grant(token, reply_number(reply[1]))
        wait = reply_number(reply[1], wait=True)
        index, used, now = int(reply[2]), int(reply[3]), reply_number(reply[4])
        return Refusal(
            wait=None if wait < 0 else wait,
            binding=PAUSE if index < 0 else index,
            used=used,
            now=now,
            poll=_POLL if wait < 0 else None,
        )

    async def _drop_if_taken(self, call: asyncio.Task[Grant | Refusal]) -> None:
        try:
            result = await call
            if isinstance(result, Grant):
                await self._end_script(keys=self._keys[:2], args=[result.token, "0", "0"])
        except REDIS_ERRORS:
            pass  # the lease frees the unit

    async def _take(self, spans: Sequence[Span], lease: float) -> Grant | Refusal:
        link = self._link
        link.check_open()
        # Shielded: cancelling a waiter must not lose a unit the script already took.
        call = link.tasks.spawn(self._try(secrets.token_hex(12), spans, lease))
        try:
            result = await asyncio.shield(call)
        except asyncio.CancelledError:
            link.tasks.spawn(self._drop_if_taken(call))
            raise
        if isinstance(result, Grant):
            # Redis holds every unit this process took (its mirror's), and more: a grant the
            # mirror alone refuses means Redis forgot them. The mirror is never seeded from
            # Redis, so it counts nothing twice.
            forgot = self._mirror.refusal(spans)
            if forgot is not None:
                await self._forgotten(result)
                return forgot
        return result

    async def _forgotten(self, grant: Grant) -> None:
        """Give back, uncounted, a unit Redis granted from a budget it lost; say so once."""
        if not self._forgot:
            self._forgot = True
            logger.warning(
                "Redis at %s granted a request that this process's own requests leave no "
                "room for: it lost the key-wide budget (FLUSHALL, an eviction, a restart "
                "without persistence). Deciding by this process's own count; other "
                "processes' requests are not counted until the budget's windows pass",
                self._link.policy.where,
            )
        with contextlib.suppress(*REDIS_ERRORS):  # else its lease frees it
            await self._end(grant, counted=False)

    async def _end(self, grant: Grant, counted: bool) -> None:
        link = self._link
        if link.closed:
            return  # the lease frees the unit; a closed client must not reconnect
        args: list[str | int] = [grant.token, int(counted), f"{self._horizon:.6f}"]
        await asyncio.shield(link.tasks.spawn(self._end_script(keys=self._keys[:2], args=args)))

    async def _hold(self, seconds: float) -> bool:
        self._link.check_open()
        reply = await self._pause_script(keys=self._keys[2:], args=[f"{seconds:.6f}"])
        return int(reply) == 1

    async def _read(self, spans: Sequence[Span]) -> Usage:
        self._link.check_open()
        horizon = max((s for _, _, s in spans), default=0.0)
        reply = await self._read_script(keys=self._keys, args=[f"{horizon:.6f}"])
        now, pause, in_flight, done = _parse_read(reply)
        # What Redis forgot, this process decides by its own count (see _take): so it reports.
        return _stricter(measure(spans, in_flight, done, pause, now), self._mirror.snapshot(spans))

    def __repr__(self) -> str:
        return f"RedisLedger({self.where!r})"
