--[[
  ack: settle held deliveries for good (the whole settlement, so one round trip per batch).

  KEYS[1] inflight   HASH: delivery -> held value
  KEYS[2] deadlines  ZSET of deliveries by visibility deadline
  KEYS[3] holds      prefix of the SETs '<holds>:<lease>' of each lease's deliveries

  ARGV, one group per lease (a handle's acks are nearly always all under its current lease):
  ARGV[i]          lease      the lease the group's deliveries were taken under
  ARGV[i+1]        count      the group's number of deliveries c
  ARGV[i+2..i+1+c] delivery   id|attempt of each delivery to settle

  The deliveries go to each command straight from ARGV (unpack of a range): no Lua string is
  built per item. deadlines is only touched when it exists (a queue with a visibility timeout).

  Returns the number of deliveries that were still held (a delivery settled twice, or reclaimed
  and handed out again under a new attempt, is left alone).
]]
local inflight, deadlines, holds = KEYS[1], KEYS[2], KEYS[3]
local timed = redis.call('EXISTS', deadlines) == 1
local n, i = 0, 1
while i <= #ARGV do
  local first, last = i + 2, i + 1 + tonumber(ARGV[i + 1])
  n = n + redis.call('HDEL', inflight, unpack(ARGV, first, last))
  if timed then redis.call('ZREM', deadlines, unpack(ARGV, first, last)) end
  redis.call('SREM', holds .. ':' .. ARGV[i], unpack(ARGV, first, last))
  i = last + 1
end
return n
