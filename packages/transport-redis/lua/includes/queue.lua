--[[
  What every queue script but declare shares: the queue's keys, the Redis clock (so deadlines
  never depend on the clocks of the clients), the queue's options, and the moves of items between
  ready, delayed and in flight. Included after "item"; KEYS are the queue's twelve keys in the
  order of QUEUE_KEY_NAMES (src/keys.ts).
]]
local meta, ready, delayed, inflight, deadlines, leases, seq, wake, room, holds, putters, expiries =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11], KEYS[12]
local SIGNAL_CAP = 64
local SIGNAL_TTL = 60000

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Lua would print large numbers in exponent form; scores must stay exact.
local function fmt(n) return string.format('%.0f', n) end

local function options(declare)
  local o = redis.call('HMGET', meta, 'order', 'maxsize', 'vt')
  if not o[1] then
    -- A queue first touched by a put (dead-lettering) is declared with the defaults; anything
    -- else (a heartbeat or release after delete()) must not bring a deleted queue back.
    if declare then redis.call('HSET', meta, 'order', 'fifo', 'maxsize', '0', 'vt', '0', 'dl', '') end
    return 'fifo', 0, 0
  end
  return o[1], tonumber(o[2]), tonumber(o[3])
end

local function ready_count(order)
  if order == 'priority' then return redis.call('ZCARD', ready) end
  return redis.call('LLEN', ready)
end

-- A returned item with a new score: after every item of its priority stored so far.
local function resequenced(item)
  local band = math.floor(tonumber(item_score(item)) / PRIORITY_UNIT)
  return item_with_score(item, fmt(band * PRIORITY_UNIT + redis.call('INCR', seq)))
end

-- A returned item is served after the items already waiting: back of a fifo list, bottom of a
-- lifo stack, a new score within its priority. So an item that keeps crashing its consumers
-- cannot hold back the rest of the queue. A new or due item goes to the back (fifo) or top (lifo).
local function push_ready(order, item, returned)
  if order == 'priority' then
    if returned then item = resequenced(item) end
    redis.call('ZADD', ready, item_score(item), item)
  elseif order == 'lifo' and not returned then
    redis.call('LPUSH', ready, item)
  else
    redis.call('RPUSH', ready, item)
  end
end

-- Push up to SIGNAL_CAP tokens to a list blocked clients BLPOP on. Stale tokens are trimmed and
-- expire, and whoever finds the queue empty (or full) deletes them.
local function signal(list, n)
  if n <= 0 then return end
  if n > SIGNAL_CAP then n = SIGNAL_CAP end
  local tokens = {}
  for i = 1, n do tokens[i] = '1' end
  redis.call('RPUSH', list, unpack(tokens))
  redis.call('LTRIM', list, -SIGNAL_CAP, -1)
  redis.call('PEXPIRE', list, SIGNAL_TTL)
end

-- The SET of the deliveries `lease` holds (same hash tag as the queue's keys, so same slot).
local function holds_of(lease)
  return holds .. ':' .. lease
end

-- Take `delivery` out of flight and put its item back, after the waiting items or (with due_at)
-- delayed; the item keeps this delivery's attempt count. `uncount` takes back the attempt of a
-- delivery given back as never started. Returns 1 if held.
local function unhold(order, delivery, due_at, uncount)
  local held = redis.call('HGET', inflight, delivery)
  redis.call('ZREM', deadlines, delivery)
  if not held then return 0 end
  redis.call('HDEL', inflight, delivery)
  redis.call('SREM', holds_of(held_lease(held)), delivery)
  if uncount then delivery = previous_delivery(delivery) end
  local item = held_item(held, delivery)
  if due_at then
    redis.call('ZADD', delayed, fmt(due_at), item)
  else
    push_ready(order, item, true)
  end
  return 1
end

local function unhold_all(order, deliveries)
  local n = 0
  for i = 1, #deliveries do n = n + unhold(order, deliveries[i], nil, false) end
  return n
end

-- The deliveries `lease` holds, read from its own SET: only that lease's entries, never the whole
-- in-flight hash. Sorted, so items go back in the same order whatever the SET's layout.
local function deliveries_of(lease)
  local deliveries = redis.call('SMEMBERS', holds_of(lease))
  table.sort(deliveries)
  return deliveries
end

-- Return in-flight items whose visibility deadline passed or whose consumer's lease expired.
local function reclaim(order, now)
  local back = redis.call('ZRANGEBYSCORE', deadlines, '-inf', fmt(now), 'LIMIT', 0, 1000)
  local dead = redis.call('ZRANGEBYSCORE', leases, '-inf', fmt(now), 'LIMIT', 0, 100)
  if #dead > 0 then
    redis.call('ZREM', leases, unpack(dead))
    for _, lease in ipairs(dead) do
      for _, delivery in ipairs(deliveries_of(lease)) do back[#back + 1] = delivery end
      redis.call('DEL', holds_of(lease))
    end
  end
  return unhold_all(order, back)
end

-- Room freed for n items: wake every put waiting in line too (up to SIGNAL_CAP), since only the
-- first in line may store and the server may hand a single token to any of them.
local function signal_room(n)
  signal(room, math.max(n, redis.call('ZCARD', putters)))
end

local function release_due(order, now)
  local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', fmt(now), 'LIMIT', 0, 1000)
  if #due > 0 then
    redis.call('ZREM', delayed, unpack(due))
    for _, item in ipairs(due) do push_ready(order, item, false) end
  end
  return #due
end

-- Milliseconds until the next delayed item, visibility deadline or lease expiry; -1 for none.
local function next_event(now)
  local best = -1
  for _, key in ipairs({ delayed, deadlines, leases }) do
    local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    if first[2] then
      local wait = math.max(0, tonumber(first[2]) - now)
      if best < 0 or wait < best then best = wait end
    end
  end
  return best
end
