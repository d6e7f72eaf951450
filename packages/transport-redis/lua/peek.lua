--[[
  peek: show items without taking them, read-only (inspection; moveItems picks its items with it).

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

  ARGV[1] limit  most items to show (1 to 1000)
  ARGV[2+1i] id  with ids given, only the items with these ids (ready or delayed), in queue order

  Returns { 0 } when the queue is not declared, else { 1, item, readyAt, item, readyAt, ... }: items
  as stored (id|attempt|score|payload). Without ids, in the order takes would serve them: ready items
  (delayed ones whose time has come among them, where the next take puts them), readyAt ''; then the
  delayed ones, soonest first, readyAt their due time in ms.
]]
--- @include "item"
--- @include "queue"

if redis.call('EXISTS', meta) == 0 then return { 0 } end
local order = options()
local limit = tonumber(ARGV[1])
local now = now_ms()
local out = { 1 }
local function add(item, ready_at)
  out[#out + 1] = item
  out[#out + 1] = ready_at
end
local function shown() return (#out - 1) / 2 end

if #ARGV > 1 then
  local wanted = {}
  for i = 2, #ARGV do wanted[ARGV[i]] = true end
  local function pick(item, ready_at)
    if shown() < limit and wanted[string.sub(item, 1, string.find(item, '|', 1, true) - 1)] then
      add(item, ready_at)
    end
  end
  local total = ready_count(order)
  for start = 0, total - 1, 1000 do
    local chunk
    if order == 'priority' then
      chunk = redis.call('ZRANGE', ready, start, start + 999)
    else
      chunk = redis.call('LRANGE', ready, start, start + 999)
    end
    for _, item in ipairs(chunk) do pick(item, '') end
    if shown() >= limit then return out end
  end
  local later = redis.call('ZCARD', delayed)
  for start = 0, later - 1, 1000 do
    local chunk = redis.call('ZRANGE', delayed, start, start + 999, 'WITHSCORES')
    for i = 1, #chunk, 2 do
      if tonumber(chunk[i + 1]) <= now then pick(chunk[i], '') else pick(chunk[i], chunk[i + 1]) end
    end
    if shown() >= limit then return out end
  end
  return out
end

-- Delayed items whose time has come: the next take moves them to ready (release_due).
local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', fmt(now), 'LIMIT', 0, limit)
if order == 'fifo' then
  for _, item in ipairs(redis.call('LRANGE', ready, 0, limit - 1)) do add(item, '') end
  for i = 1, #due do if shown() < limit then add(due[i], '') end end
elseif order == 'lifo' then
  -- Each due item is pushed on top, so the last due is served first.
  for i = #due, 1, -1 do add(due[i], '') end
  for _, item in ipairs(redis.call('LRANGE', ready, 0, limit - 1 - shown())) do add(item, '') end
else
  -- Merge the ready items and the due ones by their priority score.
  local merged = {}
  for _, item in ipairs(redis.call('ZRANGE', ready, 0, limit - 1)) do merged[#merged + 1] = item end
  for _, item in ipairs(due) do merged[#merged + 1] = item end
  table.sort(merged, function(a, b) return tonumber(item_score(a)) < tonumber(item_score(b)) end)
  for i = 1, math.min(limit, #merged) do add(merged[i], '') end
end
if shown() < limit then
  local later = redis.call('ZRANGEBYSCORE', delayed, '(' .. fmt(now), '+inf', 'WITHSCORES', 'LIMIT', 0, limit - shown())
  for i = 1, #later, 2 do add(later[i], later[i + 1]) end
end
return out
