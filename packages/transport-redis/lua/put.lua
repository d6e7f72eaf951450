--[[
  put: store items, ready now or delayed, in one step (declaring the queue with the defaults if
  it does not exist: a dead-letter queue first touched by a put).

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

  ARGV[1] checkFull  '1': a put to a bounded queue that waits its turn (see below)
  ARGV[2] ticket     with checkFull, the waiting put's ticket, unique per put
  ARGV[3] ticketTtl  with checkFull, ms the ticket keeps its place in line without a retry
  ARGV[4] count      the number of items n; then for each item i = 0 .. n - 1:
  ARGV[5+3i] delayMs   ms until the item is ready, 0 for now
  ARGV[6+3i] priority  0..255, used by priority queues
  ARGV[7+3i] item      id|0||payload (a priority queue fills in the score)

  With checkFull, puts refused for lack of room line up by ticket and are served first come,
  first served: a put stores only if every item fits and no earlier refused put is still waiting.
  A refused put joins the line (or refreshes its place); the first in line leaves it by storing.

  Returns 1 when stored, 0 when refused (nothing stored).
]]
--- @include "item"
--- @include "queue"

local order, maxsize = options(true)
local n = tonumber(ARGV[4])
local ITEMS = 5
if ARGV[1] == '1' and maxsize > 0 then
  local ticket, now_t = ARGV[2], now_ms()
  local expired = redis.call('ZRANGEBYSCORE', expiries, '-inf', fmt(now_t), 'LIMIT', 0, 100)
  if #expired > 0 then
    redis.call('ZREM', expiries, unpack(expired))
    redis.call('ZREM', putters, unpack(expired))
  end
  local first = redis.call('ZRANGE', putters, 0, 0)[1]
  local full = ready_count(order) + redis.call('ZCARD', delayed) + n > maxsize
  if full or (first and first ~= ticket) then
    if not redis.call('ZSCORE', putters, ticket) then
      redis.call('ZADD', putters, redis.call('INCR', seq), ticket)
    end
    redis.call('ZADD', expiries, fmt(now_t + tonumber(ARGV[3])), ticket)
    -- Tokens left while full are stale (only the first in line can use freed room, and it did).
    if full then redis.call('DEL', room) end
    return 0
  end
  if first then
    redis.call('ZREM', putters, ticket)
    redis.call('ZREM', expiries, ticket)
    -- Room left over: the next in line may store now.
    if ready_count(order) + redis.call('ZCARD', delayed) + n < maxsize then signal_room(0) end
  end
end
local base = 0
if order == 'priority' then base = redis.call('INCRBY', seq, n) - n end
local now
local now_ready, later = {}, 0
for i = 0, n - 1 do
  local delay, item = tonumber(ARGV[ITEMS + i * 3]), ARGV[ITEMS + 2 + i * 3]
  if order == 'priority' then
    -- (255 - priority) * 2^44 + sequence: larger priorities first, FIFO among equals.
    item = item_with_score(item, fmt((255 - tonumber(ARGV[ITEMS + 1 + i * 3])) * PRIORITY_UNIT + base + i + 1))
  end
  if delay > 0 then
    now = now or now_ms()
    redis.call('ZADD', delayed, fmt(now + delay), item)
    later = 1
  elseif order == 'priority' then
    push_ready(order, item, false)
    now_ready[#now_ready + 1] = true
  else
    now_ready[#now_ready + 1] = item
  end
end
if #now_ready > 0 and order ~= 'priority' then
  redis.call(order == 'lifo' and 'LPUSH' or 'RPUSH', ready, unpack(now_ready))
end
-- A delayed put also wakes a waiter, so it can shorten its wait to the new due time.
signal(wake, #now_ready + later)
return 1
