/**
 * The Redis keys of one queue. Every key starts with the same `{prefix:name}` hash tag, so a
 * queue lives in one Redis Cluster slot and its Lua scripts may touch all of its keys.
 */
export interface QueueKeys {
  /** HASH: the queue's declared options (`order`, `maxsize`, `vt`, `dl`). */
  readonly meta: string;
  /**
   * LIST (fifo, lifo) or ZSET scored by priority and sequence (priority) of items
   * `id|attempt|score|payload` (see `item.ts`).
   */
  readonly ready: string;
  /** ZSET of items scored by the time they become ready. */
  readonly delayed: string;
  /**
   * HASH of deliveries in flight: field `id|attempt` (this delivery) → `lease|item`, where
   * `lease` names the consumer holding it.
   */
  readonly inflight: string;
  /**
   * The prefix of each lease's SET of the deliveries (`id|attempt`) it holds, `<holds>:<lease>`
   * (see {@link holdsKey}), so releasing or reaping a lease reads only its own entries of `inflight`.
   * No key of its own: the scripts derive a lease's key from it.
   */
  readonly holds: string;
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
  /** ZSET of the tickets of puts refused for lack of room, scored by arrival: served in this order. */
  readonly putters: string;
  /** ZSET of the same tickets scored by expiry: a putter that stopped retrying drops out of line. */
  readonly expiries: string;
  /** Every key above, in the order of `QUEUE_KEY_NAMES`. */
  readonly all: readonly string[];
}

/** The name of one key of a queue. */
export type QueueKeyName = Exclude<keyof QueueKeys, 'all'>;

/**
 * A queue's keys in the order the queue scripts take them as KEYS (each `lua/*.lua` header lists
 * them so, and `lua/includes/queue.lua` binds them so).
 */
export const QUEUE_KEY_NAMES = [
  'meta',
  'ready',
  'delayed',
  'inflight',
  'deadlines',
  'leases',
  'seq',
  'wake',
  'room',
  'holds',
  'putters',
  'expiries',
] as const satisfies readonly QueueKeyName[];

/** The hash-tagged keys of queue `name` under `prefix`. */
export function queueKeys(prefix: string, name: string): QueueKeys {
  const base = `{${prefix}:${name}}`;
  const keys: Record<QueueKeyName, string> = {
    meta: `${base}:meta`,
    ready: `${base}:ready`,
    delayed: `${base}:delayed`,
    inflight: `${base}:inflight`,
    deadlines: `${base}:deadlines`,
    leases: `${base}:leases`,
    seq: `${base}:seq`,
    wake: `${base}:wake`,
    room: `${base}:room`,
    holds: `${base}:holds`,
    putters: `${base}:putters`,
    expiries: `${base}:expiries`,
  };
  return { ...keys, all: QUEUE_KEY_NAMES.map((name) => keys[name]) };
}

/** The SET of the deliveries `lease` holds (the Lua side builds the same name: `holds_of`). */
export function holdsKey(keys: Pick<QueueKeys, 'holds'>, lease: string): string {
  return `${keys.holds}:${lease}`;
}

/**
 * A LIST a consumer's wait also blocks on, one per wait (`wait` unique): a token pushed there ends
 * that wait alone (a cancel), and its take behind the wait still runs and answers. Short-lived, so
 * not among a queue's keys; in the queue's hash slot, as BLPOP over two keys needs in a cluster.
 */
export function unblockKey(prefix: string, name: string, wait: string): string {
  return `{${prefix}:${name}}:unblock:${wait}`;
}

/** The pub/sub channel of broadcast channel `channel` under `prefix`. */
export function broadcastChannel(prefix: string, channel: string): string {
  return `${prefix}:broadcast:${channel}`;
}

/** A SCAN pattern matching every key of every queue under `prefix` (for cleanup). */
export function prefixPattern(prefix: string): string {
  return `{${prefix.replace(/[*?[\]\\]/g, '\\$&')}:*`;
}
