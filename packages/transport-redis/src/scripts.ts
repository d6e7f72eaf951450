import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

/** A command client: a standalone ioredis client or a cluster client. */
export type RedisClient = Redis | Cluster;

/**
 * The Lua behind every multi-step queue operation. Each script receives the queue's keys in the
 * order of `QueueKeys.all` and reads the clock with TIME, so deadlines never depend on the
 * clocks of the clients.
 */
const PRELUDE = `
local meta, ready, delayed, data, attempts, owners, deadlines, leases, seq, scores, wake, room =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11], KEYS[12]
local SIGNAL_CAP = 64
local SIGNAL_TTL = 60000
local PRIORITY_UNIT = 17592186044416 -- 2^44: the sequence below it keeps equal priorities FIFO

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Lua would print large numbers in exponent form; scores must stay exact.
local function fmt(n) return string.format('%.0f', n) end

local function options()
  local o = redis.call('HMGET', meta, 'order', 'maxsize', 'vt')
  if not o[1] then
    -- A queue first touched by dead-lettering is declared with the defaults.
    redis.call('HSET', meta, 'order', 'fifo', 'maxsize', '0', 'vt', '0', 'dl', '')
    return 'fifo', 0, 0
  end
  return o[1], tonumber(o[2]), tonumber(o[3])
end

local function ready_count(order)
  if order == 'priority' then return redis.call('ZCARD', ready) end
  return redis.call('LLEN', ready)
end

-- A returned item is served next: front of a fifo list, top of a lifo stack, its original score
-- in a priority set.
local function push_ready(order, id, returned)
  if order == 'priority' then
    redis.call('ZADD', ready, redis.call('HGET', scores, id), id)
  elseif order == 'lifo' or returned then
    redis.call('LPUSH', ready, id)
  else
    redis.call('RPUSH', ready, id)
  end
end

-- Push up to SIGNAL_CAP tokens to a list blocked clients BLPOP on. Stale tokens are trimmed and
-- expire, and whoever finds the queue empty (or full) deletes them.
local function signal(list, n)
  if n <= 0 then return end
  if n > SIGNAL_CAP then n = SIGNAL_CAP end
  local tokens = {}
  for i = 1, n do tokens[i] = '1' end
  redis.call('RPUSH', list, unpack(tokens))
  redis.call('LTRIM', list, -SIGNAL_CAP, -1)
  redis.call('PEXPIRE', list, SIGNAL_TTL)
end

local function requeue(order, ids)
  -- Backwards, so that the first of several returned items ends up first at the front.
  local n = 0
  for i = #ids, 1, -1 do
    local id = ids[i]
    redis.call('ZREM', deadlines, id)
    if redis.call('HDEL', owners, id) == 1 then
      push_ready(order, id, true)
      n = n + 1
    end
  end
  return n
end

-- Return in-flight items whose visibility deadline passed or whose consumer's lease expired.
local function reclaim(order, now)
  local back = redis.call('ZRANGEBYSCORE', deadlines, '-inf', fmt(now), 'LIMIT', 0, 1000)
  local dead = redis.call('ZRANGEBYSCORE', leases, '-inf', fmt(now), 'LIMIT', 0, 100)
  if #dead > 0 then
    local gone = {}
    for _, lease in ipairs(dead) do gone[lease] = true end
    redis.call('ZREM', leases, unpack(dead))
    local owned = redis.call('HGETALL', owners)
    for i = 1, #owned, 2 do
      if gone[owned[i + 1]] then back[#back + 1] = owned[i] end
    end
  end
  return requeue(order, back)
end

local function release_due(order, now)
  local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', fmt(now), 'LIMIT', 0, 1000)
  if #due > 0 then
    redis.call('ZREM', delayed, unpack(due))
    for _, id in ipairs(due) do push_ready(order, id, false) end
  end
  return #due
end

-- Milliseconds until the next delayed item, visibility deadline or lease expiry; -1 for none.
local function next_event(now)
  local best = -1
  for _, key in ipairs({ delayed, deadlines, leases }) do
    local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    if first[2] then
      local wait = math.max(0, tonumber(first[2]) - now)
      if best < 0 or wait < best then best = wait end
    end
  end
  return best
end
`;

/** KEYS[1] = meta; ARGV = order, maxsize, vt, dl, mask of the options the caller gave ("1010"). */
const DECLARE = `
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
`;

/** ARGV = checkFull (1|0), count, then per item: id, priority, delayMs, payload. 1 = stored, 0 = full. */
const PUT = `
local order, maxsize = options()
local n = tonumber(ARGV[2])
if ARGV[1] == '1' and maxsize > 0 and ready_count(order) + redis.call('ZCARD', delayed) + n > maxsize then
  redis.call('DEL', room)
  return 0
end
local base = 0
if order == 'priority' then base = redis.call('INCRBY', seq, n) - n end
local now
local readied, later = 0, 0
for i = 0, n - 1 do
  local id, delay = ARGV[3 + i * 4], tonumber(ARGV[5 + i * 4])
  redis.call('HSET', data, id, ARGV[6 + i * 4])
  if order == 'priority' then
    local priority = tonumber(ARGV[4 + i * 4])
    redis.call('HSET', scores, id, fmt((255 - priority) * PRIORITY_UNIT + base + i + 1))
  end
  if delay > 0 then
    now = now or now_ms()
    redis.call('ZADD', delayed, fmt(now + delay), id)
    later = 1
  else
    push_ready(order, id, false)
    readied = readied + 1
  end
end
-- A delayed put also wakes a waiter, so it can shorten its wait to the new due time.
signal(wake, readied + later)
return 1
`;

/**
 * ARGV = lease, max items, lease TTL ms. Returns { wait, id, attempt, payload, priority, … }:
 * wait is 0 when something was taken, else ms until the next timed event (-1 = none).
 */
const TAKE = `
local order, maxsize, vt = options()
local lease, n, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local now = now_ms()
redis.call('ZADD', leases, fmt(now + ttl), lease)
reclaim(order, now)
release_due(order, now)
local ids = {}
if order == 'priority' then
  local popped = redis.call('ZPOPMIN', ready, n)
  for i = 1, #popped, 2 do ids[#ids + 1] = popped[i] end
else
  ids = redis.call('LPOP', ready, n) or {}
end
local out = { 0 }
local deadline = nil
if vt > 0 then deadline = fmt(now + vt) end
for _, id in ipairs(ids) do
  local payload = redis.call('HGET', data, id)
  if payload then
    local attempt = redis.call('HINCRBY', attempts, id, 1)
    redis.call('HSET', owners, id, lease)
    if deadline then redis.call('ZADD', deadlines, deadline, id) end
    local priority = 0
    if order == 'priority' then
      priority = 255 - math.floor(tonumber(redis.call('HGET', scores, id)) / PRIORITY_UNIT)
    end
    out[#out + 1] = id
    out[#out + 1] = attempt
    out[#out + 1] = payload
    out[#out + 1] = priority
  end
end
if #ids > 0 then
  if maxsize > 0 then signal(room, #ids) end
  -- Relay: more is waiting, so wake the next blocked taker too.
  if ready_count(order) > 0 then signal(wake, 1) end
else
  redis.call('DEL', wake)
  out[1] = next_event(now)
end
return out
`;

/** ARGV = id, attempt, id, attempt, …; settles only deliveries still held. Returns how many. */
const ACK = `
local acked = 0
for i = 1, #ARGV, 2 do
  local id = ARGV[i]
  if redis.call('HGET', attempts, id) == ARGV[i + 1] and redis.call('HDEL', owners, id) == 1 then
    redis.call('HDEL', data, id)
    redis.call('HDEL', attempts, id)
    redis.call('HDEL', scores, id)
    redis.call('ZREM', deadlines, id)
    acked = acked + 1
  end
end
return acked
`;

/**
 * ARGV = id, attempt, delayMs, undo (1 = the delivery never reached a handler: do not count it).
 * Requeues a held delivery to be served next (or after the delay). Returns 1, or 0 if not held.
 */
const NACK = `
local order = options()
local id = ARGV[1]
if redis.call('HGET', attempts, id) ~= ARGV[2] or redis.call('HDEL', owners, id) == 0 then return 0 end
redis.call('ZREM', deadlines, id)
if ARGV[4] == '1' then redis.call('HINCRBY', attempts, id, -1) end
local delay = tonumber(ARGV[3])
if delay > 0 then
  redis.call('ZADD', delayed, fmt(now_ms() + delay), id)
else
  push_ready(order, id, true)
end
signal(wake, 1)
return 1
`;

/** ARGV = lease, lease TTL ms. Refreshes the lease and returns expired deliveries. */
const HEARTBEAT = `
local order = options()
local now = now_ms()
redis.call('ZADD', leases, fmt(now + tonumber(ARGV[2])), ARGV[1])
local n = reclaim(order, now)
signal(wake, n)
return n
`;

/** ARGV = lease. Requeues every delivery the lease holds and drops the lease. */
const RELEASE = `
local order = options()
local owned = redis.call('HGETALL', owners)
local held = {}
for i = 1, #owned, 2 do
  if owned[i + 1] == ARGV[1] then held[#held + 1] = owned[i] end
end
local n = requeue(order, held)
redis.call('ZREM', leases, ARGV[1])
signal(wake, n)
return n
`;

/** Ready plus delayed items. */
const SIZE = `
local order = options()
return ready_count(order) + redis.call('ZCARD', delayed)
`;

/** Removes every ready and delayed item; returns how many. */
const PURGE = `
local order, maxsize = options()
local ids
if order == 'priority' then ids = redis.call('ZRANGE', ready, 0, -1) else ids = redis.call('LRANGE', ready, 0, -1) end
local later = redis.call('ZRANGE', delayed, 0, -1)
for _, list in ipairs({ ids, later }) do
  for _, id in ipairs(list) do
    redis.call('HDEL', data, id)
    redis.call('HDEL', attempts, id)
    redis.call('HDEL', scores, id)
  end
end
redis.call('DEL', ready, delayed)
local n = #ids + #later
if maxsize > 0 then signal(room, n) end
return n
`;

type EvalArgs = [script: string, numkeys: number, ...args: (string | Buffer | number)[]];
interface BufferedEval {
  evalshaBuffer(...args: EvalArgs): Promise<unknown>;
  evalBuffer(...args: EvalArgs): Promise<unknown>;
}

/** A Lua script run by EVALSHA, falling back to EVAL (which caches it) after a server restart. */
class LuaScript {
  private readonly sha: string;

  constructor(private readonly lua: string) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }

  async run(
    client: RedisClient,
    keys: readonly string[],
    args: (string | Buffer | number)[],
  ): Promise<unknown> {
    // ioredis generates a Buffer-reply variant of every command but does not type these two.
    const buffered = client as unknown as BufferedEval;
    try {
      return await buffered.evalshaBuffer(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!String((error as Error).message).includes('NOSCRIPT')) throw error;
      return buffered.evalBuffer(this.lua, keys.length, ...keys, ...args);
    }
  }
}

/** The queue scripts. Replies keep payloads as Buffers (and other strings as Buffers too). */
export const scripts = {
  declare: new LuaScript(DECLARE),
  put: new LuaScript(PRELUDE + PUT),
  take: new LuaScript(PRELUDE + TAKE),
  ack: new LuaScript(PRELUDE + ACK),
  nack: new LuaScript(PRELUDE + NACK),
  heartbeat: new LuaScript(PRELUDE + HEARTBEAT),
  release: new LuaScript(PRELUDE + RELEASE),
  size: new LuaScript(PRELUDE + SIZE),
  purge: new LuaScript(PRELUDE + PURGE),
};
