--[[
  declare: create a queue's meta hash, or check the caller's options against the stored ones.

  KEYS[1] meta       HASH: the declared options (order, maxsize, vt, dl)

  ARGV[1] order      fifo | lifo | priority
  ARGV[2] maxsize    0 for unbounded
  ARGV[3] vt         visibility timeout in ms, 0 for none
  ARGV[4] dl         dead-letter queue name, '' for none
  ARGV[5] given      one '0'/'1' per option above: '1' if the caller gave it (e.g. '1010')

  Returns { 'ok', order, maxsize, vt, dl } with the options now stored, or
  { 'conflict', field, stored, requested } for the first given option that differs.
]]
local fields = { 'order', 'maxsize', 'vt', 'dl' }
local existing = redis.call('HMGET', KEYS[1], 'order', 'maxsize', 'vt', 'dl')
if not existing[1] then
  redis.call('HSET', KEYS[1], 'order', ARGV[1], 'maxsize', ARGV[2], 'vt', ARGV[3], 'dl', ARGV[4])
  return { 'ok', ARGV[1], ARGV[2], ARGV[3], ARGV[4] }
end
for i = 1, 4 do
  if string.sub(ARGV[5], i, i) == '1' and existing[i] ~= ARGV[i] then
    return { 'conflict', fields[i], existing[i], ARGV[i] }
  end
end
return { 'ok', existing[1], existing[2], existing[3], existing[4] }
