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
local meta, ready, delayed, inflight, deadlines, leases, seq, wake, room =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local SIGNAL_CAP = 64
local SIGNAL_TTL = 60000

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Lua would print large numbers in exponent form; scores must stay exact.
local function fmt(n) return string.format('%.0f', n) end

local function options(declare)
  local o = redis.call('HMGET', meta, 'order', 'maxsize', 'vt')
  if not o[1] then
    -- A queue first touched by a put (dead-lettering) is declared with the defaults; anything
    -- else (a heartbeat or release after delete()) must not bring a deleted queue back.
    if declare then redis.call('HSET', meta, 'order', 'fifo', 'maxsize', '0', 'vt', '0', 'dl', '') end
    return 'fifo', 0, 0
  end
  return o[1], tonumber(o[2]), tonumber(o[3])
end

local function ready_count(order)
  if order == 'priority' then return redis.call('ZCARD', ready) end
  return redis.call('LLEN', ready)
end

-- The score field of an envelope id|attempt|score|payload.
local function score_of(envelope)
  local a = string.find(envelope, '|', 1, true)
  local b = string.find(envelope, '|', a + 1, true)
  local c = string.find(envelope, '|', b + 1, true)
  return string.sub(envelope, b + 1, c - 1)
end

-- A returned item's envelope with a new score: after every item of its priority stored so far.
local function resequenced(envelope)
  local a = string.find(envelope, '|', 1, true)
  local b = string.find(envelope, '|', a + 1, true)
  local c = string.find(envelope, '|', b + 1, true)
  local band = math.floor(tonumber(string.sub(envelope, b + 1, c - 1)) / 17592186044416)
  local score = fmt(band * 17592186044416 + redis.call('INCR', seq))
  return string.sub(envelope, 1, b) .. score .. string.sub(envelope, c)
end

-- A returned item is served after the items already waiting: back of a fifo list, bottom of a
-- lifo stack, a new score within its priority. So an item that keeps crashing its consumers
-- cannot hold back the rest of the queue. A new or due item goes to the back (fifo) or top (lifo).
local function push_ready(order, envelope, returned)
  if order == 'priority' then
    if returned then envelope = resequenced(envelope) end
    redis.call('ZADD', ready, score_of(envelope), envelope)
  elseif order == 'lifo' and not returned then
    redis.call('LPUSH', ready, envelope)
  else
    redis.call('RPUSH', ready, envelope)
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

-- Take delivery \`field\` (id|attempt) out of flight and put its item back, after the waiting
-- items or (with due_at) delayed. \`undo\` uncounts a delivery given back as never started.
-- Returns 1 if held.
local function unhold(order, field, due_at, undo)
  local value = redis.call('HGET', inflight, field)
  redis.call('ZREM', deadlines, field)
  if not value then return 0 end
  redis.call('HDEL', inflight, field)
  -- value = lease|id|attempt|score|payload; the envelope gets this delivery's attempt count.
  local a = string.find(value, '|', 1, true)
  local b = string.find(value, '|', a + 1, true)
  local c = string.find(value, '|', b + 1, true)
  if undo then
    local sep = string.find(field, '|', 1, true)
    field = string.sub(field, 1, sep) .. (tonumber(string.sub(field, sep + 1)) - 1)
  end
  local envelope = field .. string.sub(value, c)
  if due_at then
    redis.call('ZADD', delayed, fmt(due_at), envelope)
  else
    push_ready(order, envelope, true)
  end
  return 1
end

local function unhold_all(order, fields)
  local n = 0
  for i = 1, #fields do n = n + unhold(order, fields[i], nil, false) end
  return n
end

local function lease_of(value)
  return string.sub(value, 1, string.find(value, '|', 1, true) - 1)
end

-- Return in-flight items whose visibility deadline passed or whose consumer's lease expired.
local function reclaim(order, now)
  local back = redis.call('ZRANGEBYSCORE', deadlines, '-inf', fmt(now), 'LIMIT', 0, 1000)
  local dead = redis.call('ZRANGEBYSCORE', leases, '-inf', fmt(now), 'LIMIT', 0, 100)
  if #dead > 0 then
    local gone = {}
    for _, lease in ipairs(dead) do gone[lease] = true end
    redis.call('ZREM', leases, unpack(dead))
    local held = redis.call('HGETALL', inflight)
    for i = 1, #held, 2 do
      if gone[lease_of(held[i + 1])] then back[#back + 1] = held[i] end
    end
  end
  return unhold_all(order, back)
end

local function release_due(order, now)
  local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', fmt(now), 'LIMIT', 0, 1000)
  if #due > 0 then
    redis.call('ZREM', delayed, unpack(due))
    for _, envelope in ipairs(due) do push_ready(order, envelope, false) end
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

/**
 * ARGV = checkFull (1|0), count, then per item: delayMs, priority, envelope \`id|0||payload\`.
 * Returns 1 = stored, 0 = full (nothing stored).
 */
const PUT = `
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
  local delay, envelope = tonumber(ARGV[3 + i * 3]), ARGV[5 + i * 3]
  if order == 'priority' then
    -- (255 - priority) * 2^44 + sequence: larger priorities first, FIFO among equals.
    local score = fmt((255 - tonumber(ARGV[4 + i * 3])) * 17592186044416 + base + i + 1)
    local a = string.find(envelope, '|', 1, true)
    local b = string.find(envelope, '|', a + 1, true)
    envelope = string.sub(envelope, 1, b) .. score .. string.sub(envelope, b + 1)
  end
  if delay > 0 then
    now = now or now_ms()
    redis.call('ZADD', delayed, fmt(now + delay), envelope)
    later = 1
  elseif order == 'priority' then
    push_ready(order, envelope, false)
    now_ready[#now_ready + 1] = true
  else
    now_ready[#now_ready + 1] = envelope
  end
end
if #now_ready > 0 and order ~= 'priority' then
  redis.call(order == 'lifo' and 'LPUSH' or 'RPUSH', ready, unpack(now_ready))
end
-- A delayed put also wakes a waiter, so it can shorten its wait to the new due time.
signal(wake, #now_ready + later)
return 1
`;

/**
 * ARGV = lease, max items (≤ 1000), lease TTL ms. Returns { wait, envelope, attempt, … }: wait
 * is 0 when something was taken, else ms until the next timed event (-1 = none).
 */
const TAKE = `
-- A queue deleted by another connection stays deleted: no lease, no wake list brought back.
if redis.call('EXISTS', meta) == 0 then return { -1 } end
local order, maxsize, vt = options()
local lease, n, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local now = now_ms()
redis.call('ZADD', leases, fmt(now + ttl), lease)
reclaim(order, now)
release_due(order, now)
local taken
if order == 'priority' then
  local popped = redis.call('ZPOPMIN', ready, n)
  taken = {}
  for i = 1, #popped, 2 do taken[#taken + 1] = popped[i] end
else
  taken = redis.call('LPOP', ready, n) or {}
end
local out = { 0 }
if #taken == 0 then
  redis.call('DEL', wake)
  out[1] = next_event(now)
  return out
end
local held, timed = {}, {}
local deadline = vt > 0 and fmt(now + vt)
for _, envelope in ipairs(taken) do
  local a = string.find(envelope, '|', 1, true)
  local b = string.find(envelope, '|', a + 1, true)
  local attempt = tonumber(string.sub(envelope, a + 1, b - 1)) + 1
  local field = string.sub(envelope, 1, a) .. attempt
  held[#held + 1] = field
  held[#held + 1] = lease .. '|' .. envelope
  if deadline then
    timed[#timed + 1] = deadline
    timed[#timed + 1] = field
  end
  out[#out + 1] = envelope
  out[#out + 1] = attempt
end
redis.call('HSET', inflight, unpack(held))
if deadline then redis.call('ZADD', deadlines, unpack(timed)) end
if maxsize > 0 then signal(room, #taken) end
-- Relay: more is waiting, so wake the next blocked taker too.
if ready_count(order) > 0 then signal(wake, 1) end
return out
`;

/** ARGV = field (id|attempt), delayMs, undo (1|0). Requeues a held delivery; 1, or 0 if not held. */
const NACK = `
local order = options()
local delay = tonumber(ARGV[2])
local due_at = nil
if delay > 0 then due_at = now_ms() + delay end
local n = unhold(order, ARGV[1], due_at, ARGV[3] == '1')
signal(wake, n)
return n
`;

/**
 * ARGV = lease, lease TTL ms. Refreshes the lease and returns expired deliveries. Only a lease a
 * take recorded is refreshed (XX): a lease that lapsed was reaped with its deliveries, and a
 * deleted queue must not get its leases key back.
 */
const HEARTBEAT = `
local order = options()
local now = now_ms()
redis.call('ZADD', leases, 'XX', fmt(now + tonumber(ARGV[2])), ARGV[1])
local n = reclaim(order, now)
signal(wake, n)
return n
`;

/** ARGV = lease. Requeues every delivery the lease holds and drops the lease. */
const RELEASE = `
local order = options()
local held = redis.call('HGETALL', inflight)
local mine = {}
for i = 1, #held, 2 do
  if lease_of(held[i + 1]) == ARGV[1] then mine[#mine + 1] = held[i] end
end
local n = unhold_all(order, mine)
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
local n = ready_count(order) + redis.call('ZCARD', delayed)
redis.call('DEL', ready, delayed)
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
  nack: new LuaScript(PRELUDE + NACK),
  heartbeat: new LuaScript(PRELUDE + HEARTBEAT),
  release: new LuaScript(PRELUDE + RELEASE),
  size: new LuaScript(PRELUDE + SIZE),
  purge: new LuaScript(PRELUDE + PURGE),
};
