--[[
  ack: settle held deliveries for good (the whole settlement, so one round trip per batch).

  KEYS[1] inflight   HASH: delivery -> held value
  KEYS[2] deadlines  ZSET of deliveries by visibility deadline
  KEYS[3] holds      ZSET (all scores 0) of 'lease|delivery': each lease's deliveries, by lex range

  ARGV[1+2i] delivery  id|attempt of a delivery to settle
  ARGV[2+2i] lease     the lease it was taken under

  Returns the number of deliveries that were still held (a delivery settled twice, or reclaimed
  and handed out again under a new attempt, is left alone).
]]
local deliveries, entries = {}, {}
for i = 1, #ARGV, 2 do
  deliveries[#deliveries + 1] = ARGV[i]
  entries[#entries + 1] = ARGV[i + 1] .. '|' .. ARGV[i]
end
local n = redis.call('HDEL', KEYS[1], unpack(deliveries))
redis.call('ZREM', KEYS[2], unpack(deliveries))
redis.call('ZREM', KEYS[3], unpack(entries))
return n
