--[[
  release: return every delivery a lease holds, and drop the lease (a handle closing).

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

  ARGV[1] lease  the lease to drop

  Returns the number of deliveries returned.
]]
--- @include "item"
--- @include "queue"

local order = options()
local n = unhold_all(order, deliveries_of(ARGV[1]))
-- Entries whose delivery was settled by another lease (taken again under the same attempt) remain.
redis.call('DEL', holds_of(ARGV[1]))
redis.call('ZREM', leases, ARGV[1])
signal(wake, n)
return n
