--[[
  remove: take exact items out of the queue, wherever they wait (ready or delayed); items in flight
  are not touched (moveItems removes what it copied to the other queue with it).

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

  ARGV[1+1i] item  an item as stored (id|attempt|score|payload)

  Returns the number of items removed (an item taken meanwhile is no longer there).
]]
--- @include "item"
--- @include "queue"

local order, maxsize = options()
local n = 0
for i = 1, #ARGV do
  local item = ARGV[i]
  local gone = redis.call('ZREM', delayed, item)
  if gone == 0 then
    if order == 'priority' then
      gone = redis.call('ZREM', ready, item)
    else
      gone = redis.call('LREM', ready, 1, item)
    end
  end
  n = n + gone
end
if maxsize > 0 then signal_room(n) end
return n
