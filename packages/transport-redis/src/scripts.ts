import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Cluster, Redis } from 'ioredis';
import { QUEUE_KEY_NAMES, type QueueKeyName, type QueueKeys } from './keys.js';

/** A command client: a standalone ioredis client or a cluster client. */
export type RedisClient = Redis | Cluster;

/** One ARGV value. */
export type ScriptArg = string | number | Buffer;

/** The package's `lua/` directory: a sibling of both `src/` and `dist/`. */
const LUA_DIR = new URL('../lua/', import.meta.url);
/** A line `--- @include "name"` stands for `lua/includes/name.lua`. */
const INCLUDE = /^--- @include "([\w-]+)"$/gm;

/** The source of `lua/<file>` with its includes expanded. */
function loadLua(file: string): string {
  const source = readFileSync(new URL(file, LUA_DIR), 'utf8');
  return source.replace(INCLUDE, (_line, name: string) =>
    readFileSync(new URL(`includes/${name}.lua`, LUA_DIR), 'utf8'),
  );
}

/** How a script is called: the names of its KEYS and ARGV, in order, as its header lists them. */
export interface ScriptSignature<K extends QueueKeyName, A extends string> {
  /** The script's file in `lua/`. */
  readonly file: string;
  readonly keys: readonly K[];
  readonly argv: readonly A[];
  /** ARGV repeated per item after `argv` (the put script's items). */
  readonly each?: readonly string[];
}

type EvalArgs = [script: string, numkeys: number, ...args: ScriptArg[]];
interface BufferedEval {
  evalshaBuffer(...args: EvalArgs): Promise<unknown>;
  evalBuffer(...args: EvalArgs): Promise<unknown>;
}

/**
 * A Lua script loaded from `lua/` at module load, run by EVALSHA, falling back to EVAL (which
 * caches it) after a server restart. Callers pass KEYS and ARGV by name; the signature puts them
 * in the script's order.
 */
export class LuaScript<K extends QueueKeyName, A extends string> {
  /** The script as sent to Redis (includes expanded). */
  readonly source: string;
  private readonly sha: string;

  constructor(readonly signature: ScriptSignature<K, A>) {
    this.source = loadLua(signature.file);
    this.sha = createHash('sha1').update(this.source).digest('hex');
  }

  /** Run with `keys` and `args`, then `each` (the per-item ARGV, flattened) after them. */
  async run(
    client: RedisClient,
    keys: Pick<QueueKeys, K>,
    args: Readonly<Record<A, ScriptArg>>,
    each: readonly ScriptArg[] = [],
  ): Promise<unknown> {
    const { keys: keyNames, argv } = this.signature;
    const call = [...keyNames.map((name) => keys[name]), ...argv.map((name) => args[name]), ...each];
    // ioredis generates a Buffer-reply variant of every command but does not type these two.
    const buffered = client as unknown as BufferedEval;
    try {
      return await buffered.evalshaBuffer(this.sha, keyNames.length, ...call);
    } catch (error) {
      if (!String((error as Error).message).includes('NOSCRIPT')) throw error;
      return buffered.evalBuffer(this.source, keyNames.length, ...call);
    }
  }
}

/** The queue scripts. Replies keep payloads as Buffers (and other strings as Buffers too). */
export const scripts = {
  declare: new LuaScript({
    file: 'declare.lua',
    keys: ['meta'],
    argv: ['order', 'maxsize', 'vt', 'dl', 'given'],
  }),
  put: new LuaScript({
    file: 'put.lua',
    keys: QUEUE_KEY_NAMES,
    argv: ['checkFull', 'ticket', 'ticketTtl', 'count'],
    each: ['delayMs', 'priority', 'item'],
  }),
  take: new LuaScript({ file: 'take.lua', keys: QUEUE_KEY_NAMES, argv: ['lease', 'max', 'leaseTtlMs'] }),
  // ARGV: one group per lease, of variable length (see the script's header).
  ack: new LuaScript({ file: 'ack.lua', keys: ['inflight', 'deadlines', 'holds'], argv: [] }),
  nack: new LuaScript({ file: 'nack.lua', keys: QUEUE_KEY_NAMES, argv: ['delivery', 'delayMs', 'uncount'] }),
  heartbeat: new LuaScript({ file: 'heartbeat.lua', keys: QUEUE_KEY_NAMES, argv: ['lease', 'leaseTtlMs'] }),
  release: new LuaScript({ file: 'release.lua', keys: QUEUE_KEY_NAMES, argv: ['lease'] }),
  size: new LuaScript({ file: 'size.lua', keys: QUEUE_KEY_NAMES, argv: [] }),
  purge: new LuaScript({ file: 'purge.lua', keys: QUEUE_KEY_NAMES, argv: [] }),
  // Inspection (src/inspection.ts).
  stats: new LuaScript({ file: 'stats.lua', keys: QUEUE_KEY_NAMES, argv: [] }),
  peek: new LuaScript({ file: 'peek.lua', keys: QUEUE_KEY_NAMES, argv: ['limit'], each: ['id'] }),
  remove: new LuaScript({ file: 'remove.lua', keys: QUEUE_KEY_NAMES, argv: [], each: ['item'] }),
};
