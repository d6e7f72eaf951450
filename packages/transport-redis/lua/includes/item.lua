--[[
  The item layout every queue script shares (src/item.ts is the same layout on the TypeScript side).

    item      = id '|' attempt '|' score '|' payload   in ready, delayed, and take's reply
    delivery  = id '|' attempt                         a field of inflight: names one delivery
    held      = lease '|' item                         a value of inflight: who holds it, and what

  id and lease never contain '|'. attempt counts the deliveries so far. score is empty except in
  a priority queue: (255 - priority) * PRIORITY_UNIT + sequence. payload is raw bytes and may
  contain '|', so it is always the rest of the string.
]]
local PRIORITY_UNIT = 17592186044416 -- 2^44: room for 2^44 sequence numbers per priority

-- Positions of the three separators of the item that starts at position `from` of `s`.
local function item_bars(s, from)
  local a = string.find(s, '|', from, true)
  local b = string.find(s, '|', a + 1, true)
  local c = string.find(s, '|', b + 1, true)
  return a, b, c
end

local function item_score(item)
  local _, b, c = item_bars(item, 1)
  return string.sub(item, b + 1, c - 1)
end

local function item_with_score(item, score)
  local _, b, c = item_bars(item, 1)
  return string.sub(item, 1, b) .. score .. string.sub(item, c)
end

-- The delivery that hands out `item` once more, and its attempt number.
local function next_delivery(item)
  local a, b = item_bars(item, 1)
  local attempt = tonumber(string.sub(item, a + 1, b - 1)) + 1
  return string.sub(item, 1, a) .. attempt, attempt
end

-- The delivery before `delivery` of the same item (the attempt count taken back).
local function previous_delivery(delivery)
  local sep = string.find(delivery, '|', 1, true)
  return string.sub(delivery, 1, sep) .. (tonumber(string.sub(delivery, sep + 1)) - 1)
end

local function held_value(lease, item)
  return lease .. '|' .. item
end

local function held_lease(held)
  return string.sub(held, 1, string.find(held, '|', 1, true) - 1)
end

-- The item a held value stores, with the attempt count of `delivery`.
local function held_item(held, delivery)
  local _, b = item_bars(held, string.find(held, '|', 1, true) + 1)
  return delivery .. string.sub(held, b)
end
