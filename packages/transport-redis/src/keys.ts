/**
 * The Redis keys of one queue. Every key starts with the same `{prefix:name}` hash tag, so a
 * queue lives in one Redis Cluster slot and its Lua scripts may touch all of its keys.
 */
export interface QueueKeys {
  /** HASH: the queue's declared options (`order`, `maxsize`, `vt`, `dl`). */
  readonly meta: string;
  /** LIST of ids (fifo, lifo) or ZSET of ids scored by priority and sequence (priority). */
  readonly ready: string;
  /** ZSET of ids scored by the time they become ready. */
  readonly delayed: string;
  /** HASH id → msgpack payload. */
  readonly data: string;
  /** HASH id → deliveries so far. */
  readonly attempts: string;
  /** HASH id → lease of the consumer holding it (in flight). */
  readonly owners: string;
  /** ZSET of in-flight ids scored by visibility deadline (only when `visibilityTimeoutMs` > 0). */
  readonly deadlines: string;
  /** ZSET of consumer leases scored by expiry; refreshed by heartbeats. */
  readonly leases: string;
  /** STRING counter ordering equal priorities. */
  readonly seq: string;
  /** HASH id → priority score (priority queues). */
  readonly scores: string;
  /** LIST of wake-up tokens a blocked get waits on (BLPOP). */
  readonly wake: string;
  /** LIST of room tokens a put blocked on a full queue waits on (BLPOP). */
  readonly room: string;
  /** Every key above, in the order the Lua scripts expect them as KEYS. */
  readonly all: readonly string[];
}

/** The hash-tagged keys of queue `name` under `prefix`. */
export function queueKeys(prefix: string, name: string): QueueKeys {
  const base = `{${prefix}:${name}}`;
  const keys = {
    meta: `${base}:meta`,
    ready: `${base}:ready`,
    delayed: `${base}:delayed`,
    data: `${base}:data`,
    attempts: `${base}:attempts`,
    owners: `${base}:owners`,
    deadlines: `${base}:deadlines`,
    leases: `${base}:leases`,
    seq: `${base}:seq`,
    scores: `${base}:scores`,
    wake: `${base}:wake`,
    room: `${base}:room`,
  };
  return { ...keys, all: Object.values(keys) };
}

/** The pub/sub channel of broadcast channel `channel` under `prefix`. */
export function broadcastChannel(prefix: string, channel: string): string {
  return `${prefix}:broadcast:${channel}`;
}

/** A SCAN pattern matching every key of every queue under `prefix` (for cleanup). */
export function prefixPattern(prefix: string): string {
  return `{${prefix.replace(/[*?[\]\\]/g, '\\$&')}:*`;
}
