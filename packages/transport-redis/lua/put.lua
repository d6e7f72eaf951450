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

  ARGV[1] checkFull  '1': store nothing if a bounded queue lacks room for every item
  ARGV[2] count      the number of items n; then for each item i = 0 .. n - 1:
  ARGV[3+3i] delayMs   ms until the item is ready, 0 for now
  ARGV[4+3i] priority  0..255, used by priority queues
  ARGV[5+3i] item      id|0||payload (a priority queue fills in the score)

  Returns 1 when stored, 0 when the queue was full (nothing stored).
]]
--- @include "item"
--- @include "queue"

local order, maxsize = options(true)
local n = tonumber(ARGV[2])
if ARGV[1] == '1' and maxsize > 0 and ready_count(order) + redis.call('ZCARD', delayed) + n > maxsize then
  redis.call('DEL', room)
  return 0
end
local base = 0
if order == 'priority' then base = redis.call('INCRBY', seq, n) - n end
local now
local now_ready, later = {}, 0
for i = 0, n - 1 do
  local delay, item = tonumber(ARGV[3 + i * 3]), ARGV[5 + i * 3]
  if order == 'priority' then
    -- (255 - priority) * 2^44 + sequence: larger priorities first, FIFO among equals.
    item = item_with_score(item, fmt((255 - tonumber(ARGV[4 + i * 3])) * PRIORITY_UNIT + base + i + 1))
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
