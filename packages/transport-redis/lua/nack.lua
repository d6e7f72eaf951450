--[[
  nack: give a held delivery's item back, behind the waiting items or delayed.

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

  ARGV[1] delivery  id|attempt of the delivery
  ARGV[2] delayMs   ms until the item is ready again, 0 for now
  ARGV[3] uncount   '1': take back the attempt this delivery counted (it never started)

  Returns 1 when the delivery was held, 0 when it was not (already settled or reclaimed).
]]
--- @include "item"
--- @include "queue"

local order = options()
local delay = tonumber(ARGV[2])
local due_at = nil
if delay > 0 then due_at = now_ms() + delay end
local n = unhold(order, ARGV[1], due_at, ARGV[3] == '1')
signal(wake, n)
return n
