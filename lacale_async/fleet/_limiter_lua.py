"""The Lua scripts of the fleet's rate limiter, and the start the key budget shares with them.

Each runs atomically in Redis and reads Redis's own clock (``TIME``): every process of the
fleet decides on one clock and one history.
"""

from __future__ import annotations

__all__ = ["ACQUIRE", "PAUSE", "RECLAIM_LUA", "RELEASE"]

RECLAIM_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local stale = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', string.format('%.6f', now),
                         'WITHSCORES')
for i = 1, #stale, 2 do
  -- The holder vanished: its request ended at the latest when its lease did.
  redis.call('ZADD', KEYS[2], stale[i + 1], stale[i])
  redis.call('ZREM', KEYS[1], stale[i])
end
-- No fleet writes an exit after Redis's clock: a later one (a corrupt key, a clock set back)
-- counts as ending now, so it ages out after one window instead of however far ahead it says.
local ahead = redis.call('ZRANGEBYSCORE', KEYS[2], string.format('(%.6f', now), '+inf')
for i = 1, #ahead do
  redis.call('ZADD', KEYS[2], string.format('%.6f', now), ahead[i])
end
"""
"""The start of a script on (KEYS[1] in flight, KEYS[2] done): ``now`` from the Redis clock,
the slots whose lease ended moved to done at their lease end, and exits stamped after now
stamped now. Shared with the key budget."""

# KEYS: 1 slots in flight (token -> lease end), 2 finished slots (token -> exit time),
#       3 pause deadline, 4 longest window + margin in use (how long history must be kept).
# ARGV: 1 token, 2 lease, 3 this limiter's longest span, then (calls, period + margin) pairs.
# Returns {1, now} when the slot is taken, else {0, seconds to wait}; numbers as strings since
# Redis truncates Lua numbers to integers.
ACQUIRE = (
    RECLAIM_LUA
    + """
local lease = tonumber(ARGV[2])
local wait = 0
local pause = redis.call('GET', KEYS[3])
if pause then wait = tonumber(pause) - now end
local busy = redis.call('ZCARD', KEYS[1])
local horizon = math.max(tonumber(ARGV[3]), tonumber(redis.call('GET', KEYS[4]) or '0'))
for i = 4, #ARGV, 2 do
  local calls = tonumber(ARGV[i])
  local span = tonumber(ARGV[i + 1])
  if busy >= calls then
    -- Every slot is held by a running request: none frees before one ends, and then not
    -- before that exit + span, so span is a wait that can never be too long.
    if span > wait then wait = span end
  else
    local e = redis.call('ZREVRANGE', KEYS[2], calls - busy - 1, calls - busy - 1, 'WITHSCORES')
    if #e == 2 then
      local w = tonumber(e[2]) + span - now
      if w > wait then wait = w end
    end
  end
end
if wait > 0.000001 then
  return {0, string.format('%.6f', wait)}
end
local ttl = math.ceil((horizon + lease) * 1000)
redis.call('ZADD', KEYS[1], string.format('%.6f', now + lease), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('(%.6f', now - horizon))
redis.call('SET', KEYS[4], string.format('%.6f', horizon), 'PX', ttl)
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
return {1, string.format('%.6f', now)}
"""
)

# KEYS: 1 in flight, 2 finished, 4 horizon (as above). ARGV: 1 token, 2 lease, 3 span.
# Stamps the exit with the server's clock; also re-stamps a slot already reclaimed as stale,
# since its request really ended only now.
RELEASE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], string.format('%.6f', now), ARGV[1])
local horizon = math.max(tonumber(ARGV[3]), tonumber(redis.call('GET', KEYS[3]) or '0'))
redis.call('PEXPIRE', KEYS[2], math.ceil((horizon + tonumber(ARGV[2])) * 1000))
return 1
"""

# KEYS: 1 pause deadline. ARGV: 1 seconds. Only ever moves the deadline later.
PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local deadline = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if deadline > current then
  redis.call('SET', KEYS[1], string.format('%.6f', deadline), 'PX',
             math.ceil(tonumber(ARGV[1]) * 1000) + 1)
end
return 1
"""
