/**
 * The Redis keys of one queue. Every key starts with the same `{prefix:name}` hash tag, so a
 * queue lives in one Redis Cluster slot and its Lua scripts may touch all of its keys.
 */
export interface QueueKeys {
  /** HASH: the queue's declared options (`order`, `maxsize`, `vt`, `dl`). */
  readonly meta: string;
  /**
   * LIST (fifo, lifo) or ZSET scored by priority and sequence (priority) of envelopes
   * `id|attempt|score|payload`: `attempt` counts deliveries so far, `score` is empty in lists.
   */
  readonly ready: string;
  /** ZSET of envelopes scored by the time they become ready. */
  readonly delayed: string;
  /**
   * HASH of deliveries in flight: field `id|attempt` (this delivery) → `lease|envelope`, where
   * `lease` names the consumer holding it.
   */
  readonly inflight: string;
  /** ZSET of in-flight fields scored by visibility deadline (only when `visibilityTimeoutMs` > 0). */
  readonly deadlines: string;
  /** ZSET of consumer leases scored by expiry; refreshed by heartbeats. */
  readonly leases: string;
  /** STRING counter ordering equal priorities. */
  readonly seq: string;
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
    inflight: `${base}:inflight`,
    deadlines: `${base}:deadlines`,
    leases: `${base}:leases`,
    seq: `${base}:seq`,
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
