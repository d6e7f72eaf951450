--[[
  take: hold up to max ready items for the consumer with lease. First renews the lease, returns
  in-flight items whose visibility deadline passed or whose lease expired, and makes due delayed
  items ready.

  KEYS[1] meta       HASH: the declared options (order, maxsize, vt, dl)
  KEYS[2] ready      LIST (fifo, lifo) or ZSET (priority) of items
  KEYS[3] delayed    ZSET of items by due time
  KEYS[4] inflight   HASH: delivery -> held value
  KEYS[5] deadlines  ZSET of deliveries by visibility deadline
  KEYS[6] leases     ZSET of consumer leases by expiry
  KEYS[7] seq        STRING: sequence of a priority queue
  KEYS[8] wake       LIST of wake-up tokens for blocked takers
  KEYS[9] room       LIST of room tokens for puts blocked on a full queue
  KEYS[10] holds     prefix of the SETs '<holds>:<lease>' of each lease's deliveries
  KEYS[11] putters   ZSET of the tickets of puts refused for room, by arrival (their line)
  KEYS[12] expiries  ZSET of those tickets by expiry (a putter that stopped retrying leaves the line)

  ARGV[1] lease       the taking handle's lease
  ARGV[2] max         most items to take (at most 1000: unpack() limits the count)
  ARGV[3] leaseTtlMs  the lease's time to live

  Returns { wait, item, attempt, item, attempt, ... }: each item as it was stored (its attempt
  field the count before this delivery) and this delivery's attempt number. wait is -2 when max
  items were taken (more may be ready), else the queue is drained and wait is ms until the next
  timed event (-1 = none). A deleted queue returns { -1 }.
]]
--- @include "item"
--- @include "queue"

-- A queue deleted by another connection stays deleted: no lease, no wake list brought back.
if redis.call('EXISTS', meta) == 0 then return { -1 } end
local order, maxsize, vt = options()
local lease, n, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local now = now_ms()
redis.call('ZADD', leases, fmt(now + ttl), lease)
reclaim(order, now)
release_due(order, now)
local taken
if order == 'priority' then
  local popped = redis.call('ZPOPMIN', ready, n)
  taken = {}
  for i = 1, #popped, 2 do taken[#taken + 1] = popped[i] end
else
  taken = redis.call('LPOP', ready, n) or {}
end
local out = { -2 }
if #taken == 0 then
  redis.call('DEL', wake)
  out[1] = next_event(now)
  return out
end
local held, index, timed = {}, {}, {}
local deadline = vt > 0 and fmt(now + vt)
for _, item in ipairs(taken) do
  local delivery, attempt = next_delivery(item)
  held[#held + 1] = delivery
  held[#held + 1] = held_value(lease, item)
  index[#index + 1] = delivery
  if deadline then
    timed[#timed + 1] = deadline
    timed[#timed + 1] = delivery
  end
  out[#out + 1] = item
  out[#out + 1] = attempt
end
redis.call('HSET', inflight, unpack(held))
redis.call('SADD', holds_of(lease), unpack(index))
if deadline then redis.call('ZADD', deadlines, unpack(timed)) end
if maxsize > 0 then signal_room(#taken) end
if #taken < n then
  -- Drained: the taker waits for a wake-up next, and learns how long it may wait.
  out[1] = next_event(now)
elseif ready_count(order) > 0 then
  -- Relay: more is waiting, so wake the next blocked taker too.
  signal(wake, 1)
end
return out
