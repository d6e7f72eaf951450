import {
  type Codec,
  type MoveOptions,
  type PeekedItem,
  type PeekOptions,
  QueueNotFoundError,
  type QueueStats,
} from '@taskwire/core';
import {
  checkQueueName,
  peekedBody,
  resolveMoveOptions,
  resolvePeekLimit,
  undecodableTarget,
  wrapBackendError,
} from '@taskwire/core/transport';
import { Cluster } from 'ioredis';
import { decodeItem, encodeItem } from './item.js';
import { queueKeys } from './keys.js';
import { type RedisClient, type ScriptArg, scripts } from './scripts.js';

/** What inspection borrows from its connection. */
export interface InspectionContext {
  readonly client: RedisClient;
  readonly codec: Codec;
  readonly prefix: string;
}

/** Items per script call of `moveItems` (Lua's unpack() limits the count). */
const MOVE_BATCH = 1000;
/** The tail of a queue's declaration key, `{prefix:name}:meta`. */
const META_SUFFIX = '}:meta';

/** One item as the peek script returned it. */
interface StoredItem {
  /** The exact stored bytes (the remove script finds the item by them). */
  readonly stored: Buffer;
  /** Due time (epoch ms) of a delayed item; undefined when ready. */
  readonly readyAt: number | undefined;
}

/**
 * The inspection part of the contract on Redis: counts by state, peek, listing, moving and purging. Counts and
 * peeks are single read-only scripts (one consistent view of a queue). A move copies, then removes: the two queues
 * may live in different cluster slots, so no one script can touch both; an item taken from `from` between the two
 * steps ends up in both queues rather than in neither (the same choice as dead-lettering).
 */
export class RedisInspection {
  constructor(private readonly ctx: InspectionContext) {}

  /** The declared queues under the prefix, by SCAN of their declaration keys (on every master of a cluster). */
  async listQueues(): Promise<string[]> {
    const { client, prefix } = this.ctx;
    const pattern = `{${prefix.replace(/[*?[\]\\]/g, '\\$&')}:*${META_SUFFIX}`;
    const nodes = client instanceof Cluster ? client.nodes('master') : [client];
    const names = new Set<string>();
    try {
      for (const node of nodes) {
        let cursor = '0';
        do {
          const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000, 'TYPE', 'hash');
          for (const key of keys) names.add(key.slice(prefix.length + 2, -META_SUFFIX.length));
          cursor = next;
        } while (cursor !== '0');
      }
    } catch (error) {
      throw wrapBackendError(error, 'redis: listing queues');
    }
    return [...names].sort();
  }

  async stats(name: string): Promise<QueueStats> {
    checkQueueName(name);
    const reply = (await this.run(
      scripts.stats.run(this.ctx.client, queueKeys(this.ctx.prefix, name), {}),
      `stats of "${name}"`,
    )) as (number | Buffer)[];
    if (Number(reply[0]) === 0) throw notFound(name);
    const [, ready, delayed, inFlight, dl] = reply;
    const declared = String(dl ?? '');
    const deadLetter = undecodableTarget(name, declared === '' ? undefined : declared);
    const size = await this.run(
      scripts.size.run(this.ctx.client, queueKeys(this.ctx.prefix, deadLetter), {}),
      `size of "${deadLetter}"`,
    );
    return {
      name,
      ready: Number(ready),
      delayed: Number(delayed),
      inFlight: Number(inFlight),
      // A lease belongs to a queue handle, not to a consumer (a handle that stopped consuming keeps it): Redis
      // has no count of consumers to give.
      consumers: undefined,
      deadLetter: { name: deadLetter, size: Number(size) },
    };
  }

  async peek<T>(name: string, options: PeekOptions = {}): Promise<PeekedItem<T>[]> {
    checkQueueName(name);
    const items = await this.read(name, resolvePeekLimit(options.limit), []);
    return items.map((item) => this.show<T>(item));
  }

  async moveItems(from: string, to: string, options: MoveOptions = {}): Promise<number> {
    checkQueueName(from);
    checkQueueName(to);
    if (from === to) throw new RangeError(`moveItems needs two different queues (got "${from}" twice)`);
    const { limit } = resolveMoveOptions(options);
    const ids = options.ids && [...new Set(options.ids)];
    const maxsize = await this.maxsizeOf(to);
    // Bounded by what `from` holds now, so items that arrive while moving (or move back) cannot keep it going.
    const fromStats = await this.stats(from);
    let remaining = Math.min(limit, fromStats.ready + fromStats.delayed);
    const idChunks: (readonly string[])[] = [];
    if (ids) for (let i = 0; i < ids.length; i += MOVE_BATCH) idChunks.push(ids.slice(i, i + MOVE_BATCH));
    let moved = 0;
    for (let round = 0; remaining > 0 && (ids === undefined || round < idChunks.length); round++) {
      const chunk = ids === undefined ? [] : idChunks[round]!;
      const room = maxsize > 0 ? maxsize - (await this.sizeOf(to)) : Number.POSITIVE_INFINITY;
      const want = Math.min(remaining, room, ids === undefined ? MOVE_BATCH : chunk.length);
      if (want <= 0) break;
      const picked = await this.read(from, want, chunk);
      if (picked.length === 0) {
        if (ids === undefined) break;
        continue;
      }
      await this.store(to, picked);
      await this.run(
        scripts.remove.run(
          this.ctx.client,
          queueKeys(this.ctx.prefix, from),
          {},
          picked.map((item) => item.stored),
        ),
        `removing moved items from "${from}"`,
      );
      moved += picked.length;
      remaining -= picked.length;
    }
    return moved;
  }

  async purgeQueue(name: string): Promise<number> {
    checkQueueName(name);
    const keys = queueKeys(this.ctx.prefix, name);
    const exists = await this.run(this.ctx.client.exists(keys.meta), `purging "${name}"`);
    if (Number(exists) === 0) throw notFound(name);
    return Number(await this.run(scripts.purge.run(this.ctx.client, keys, {}), `purging "${name}"`));
  }

  /** Up to `limit` items of `name` in serving order (or those with `ids`); `QueueNotFoundError` if undeclared. */
  private async read(name: string, limit: number, ids: readonly string[]): Promise<StoredItem[]> {
    const reply = (await this.run(
      scripts.peek.run(this.ctx.client, queueKeys(this.ctx.prefix, name), { limit }, ids),
      `peek at "${name}"`,
    )) as (number | Buffer)[];
    if (Number(reply[0]) === 0) throw notFound(name);
    const items: StoredItem[] = [];
    for (let i = 1; i + 1 < reply.length; i += 2) {
      const readyAt = (reply[i + 1] as Buffer).toString();
      items.push({ stored: reply[i] as Buffer, readyAt: readyAt === '' ? undefined : Number(readyAt) });
    }
    return items;
  }

  /** Store moved items at the back of `to` as fresh ones: attempt 0, their priority kept (put ignores maxsize). */
  private async store(to: string, items: readonly StoredItem[]): Promise<void> {
    const each: ScriptArg[] = [];
    for (const { stored } of items) {
      const { id, priority, payload } = decodeItem(stored);
      each.push(0, priority, encodeItem(id, payload));
    }
    const args = { checkFull: '0', ticket: '', ticketTtl: 0, count: items.length };
    await this.run(
      scripts.put.run(this.ctx.client, queueKeys(this.ctx.prefix, to), args, each),
      `moving items to "${to}"`,
    );
  }

  private show<T>({ stored, readyAt }: StoredItem): PeekedItem<T> {
    const { id, priority, payload } = decodeItem(stored);
    const bars = stored.indexOf(0x7c);
    const attempts = Number(stored.toString('latin1', bars + 1, stored.indexOf(0x7c, bars + 1)));
    const scored = stored[stored.indexOf(0x7c, bars + 1) + 1] !== 0x7c;
    return {
      id,
      body: peekedBody(this.ctx.codec, payload) as T | Uint8Array,
      attempts,
      state: readyAt === undefined ? 'ready' : 'delayed',
      ...(readyAt === undefined ? {} : { readyAt }),
      ...(scored ? { priority } : {}),
    };
  }

  /** The `maxsize` of declared queue `name` (0: unbounded). */
  private async maxsizeOf(name: string): Promise<number> {
    checkQueueName(name);
    const meta = queueKeys(this.ctx.prefix, name).meta;
    const maxsize = await this.run(this.ctx.client.hget(meta, 'maxsize'), `reading "${name}"`);
    if (maxsize === null) throw notFound(name);
    return Number(maxsize);
  }

  private async sizeOf(name: string): Promise<number> {
    const keys = queueKeys(this.ctx.prefix, name);
    return Number(await this.run(scripts.size.run(this.ctx.client, keys, {}), `size of "${name}"`));
  }

  private run<R>(pending: Promise<R>, what: string): Promise<R> {
    return pending.catch((error: unknown) => {
      throw wrapBackendError(error, `redis: ${what}`);
    });
  }
}

function notFound(name: string): QueueNotFoundError {
  return new QueueNotFoundError(`queue "${name}" does not exist`);
}
