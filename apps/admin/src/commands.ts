import { currentLogger, loadTransport, readAuthkey, settingsFrom } from '@taskwire/cli-kit';
import {
  ConfigError,
  type Connection,
  deadLetterQueueOf,
  type QueueStats,
  UnsupportedError,
} from '@taskwire/core';
import type { AdminFlags } from './admin-flags.js';
import { confirm } from './confirm.js';
import { ago, short, table } from './format.js';
import { viewItem } from './items.js';
import { type Session, withSession } from './session.js';
import { watchWorkers } from './workers.js';

/** Where a command writes: one function, so `--json` and text share the command's logic. */
const print = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

/** The queue an argument names, else the `--queue` setting (default `tasks`). */
const queueOf = (session: Session, queue: string | undefined) => queue ?? session.settings.queue;

/** `taskwire queues`: every queue with its counts (names only where the backend cannot count). */
export function queues(flags: AdminFlags): Promise<number> {
  return withSession(flags, async ({ connection }) => {
    const names = await connection.listQueues();
    const stats = connection.transport.capabilities.stats
      ? await Promise.all(names.map((name) => connection.stats(name)))
      : undefined;
    if (flags.json) print(JSON.stringify(stats ?? names.map((name) => ({ name }))));
    else if (names.length === 0) print('no queues');
    else if (!stats) print(names.join('\n'));
    else print(table(STATS_HEADERS, stats.map(statsRow)));
    return 0;
  });
}

const STATS_HEADERS = ['QUEUE', 'READY', 'DELAYED', 'IN FLIGHT', 'CONSUMERS', 'DEAD'];
const statsRow = (s: QueueStats) => [s.name, s.ready, s.delayed, s.inFlight, s.consumers, s.deadLetter.size];

/** Options of `taskwire stats`. */
export interface StatsFlags extends AdminFlags {
  watch?: boolean;
  interval?: number;
}

/** `taskwire stats <queue>`: its counts, once or every `--interval` seconds with `--watch` until a signal. */
export function stats(queue: string | undefined, flags: StatsFlags): Promise<number> {
  return withSession(flags, async (session) => {
    const name = queueOf(session, queue);
    const show = (s: QueueStats, header: boolean) => {
      if (flags.json) print(JSON.stringify({ at: Date.now(), ...s }));
      else if (header) print(table(STATS_HEADERS, [statsRow(s)]));
      else print(table(STATS_HEADERS, [statsRow(s)]).split('\n')[1] ?? '');
    };
    show(await session.connection.stats(name), true);
    if (!flags.watch) return 0;
    const stopped = stopSignal();
    const intervalMs = (flags.interval ?? 2) * 1000;
    while (!(await stopped.within(intervalMs))) show(await session.connection.stats(name), false);
    return 0;
  });
}

/** Resolves true once SIGINT or SIGTERM came; `within(ms)` waits at most `ms` for it. */
function stopSignal(): { within(ms: number): Promise<boolean> } {
  let stopped = false;
  let wake: (() => void) | undefined;
  const stop = () => {
    stopped = true;
    wake?.();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return {
    within: (ms) =>
      new Promise<boolean>((resolve) => {
        if (stopped) return resolve(true);
        const timer = setTimeout(() => resolve(stopped), ms);
        wake = () => {
          clearTimeout(timer);
          resolve(true);
        };
      }),
  };
}

/** Options of `taskwire peek`. */
export interface PeekFlags extends AdminFlags {
  limit?: number;
}

/** `taskwire peek <queue>`: up to `-n` items, not taken. */
export function peek(queue: string | undefined, flags: PeekFlags): Promise<number> {
  return withSession(flags, async (session) => {
    await showItems(session.connection, queueOf(session, queue), flags.limit ?? 10, flags.json);
    return 0;
  });
}

async function showItems(connection: Connection, name: string, limit: number, json?: boolean): Promise<void> {
  const items = (await connection.peek(name, { limit })).map(viewItem);
  if (json) return print(JSON.stringify(items));
  if (items.length === 0) return print(`${name} is empty`);
  print(
    table(
      ['ID', 'STATE', 'ATTEMPTS', 'KIND', 'PAYLOAD', 'ERROR'],
      items.map((item) => [
        item.id,
        item.state,
        item.attempts,
        item.poison ? '(not a task)' : item.kind,
        short(item.payload, 40),
        item.error ? short(`${item.error.name}: ${item.error.message}`, 60) : undefined,
      ]),
    ),
  );
}

/** Options of `taskwire workers`. */
export interface WorkersFlags extends AdminFlags {
  wait?: number;
}

/** `taskwire workers`: the live workers heard from within `--wait` seconds. */
export function workers(flags: WorkersFlags): Promise<number> {
  return withSession(flags, async ({ connection }) => {
    const directory = await watchWorkers(connection);
    try {
      await new Promise((resolve) => setTimeout(resolve, (flags.wait ?? 1) * 1000));
      const list = directory.list();
      if (flags.json) print(JSON.stringify(list));
      else if (list.length === 0) print('no live workers');
      else {
        print(
          table(
            ['NAME', 'HOST', 'PID', 'QUEUE', 'CONC', 'RUNNING', 'DONE', 'FAILED', 'UP', 'HEARTBEAT', 'STATE'],
            list.map((w) => [
              w.name,
              w.host,
              w.pid,
              w.queue,
              w.concurrency,
              w.running.length,
              w.tasksDone,
              w.tasksFailed,
              ago(w.startedAt),
              `${ago(w.heartbeatAt)} ago`,
              w.state,
            ]),
          ),
        );
      }
      return 0;
    } finally {
      await directory.close();
    }
  });
}

/** The dead-letter queue of `queue`: the one its stats name, else the default `<queue>.dead`. */
export async function deadLetterOf(connection: Connection, queue: string): Promise<string> {
  try {
    return (await connection.stats(queue)).deadLetter.name;
  } catch (error) {
    if (UnsupportedError.isInstance(error)) return deadLetterQueueOf(queue);
    throw error;
  }
}

/** Options of `taskwire dead`. */
export interface DeadFlags extends AdminFlags {
  requeue?: boolean;
  purge?: boolean;
  ids?: string[];
  limit?: number;
  yes?: boolean;
}

/** `taskwire dead <queue>`: show its dead-letter queue, requeue items back to it, or purge it. */
export function dead(queue: string | undefined, flags: DeadFlags): Promise<number> {
  if (flags.requeue && flags.purge) throw new ConfigError('--requeue and --purge exclude each other');
  if ((flags.ids || flags.limit !== undefined) && !flags.requeue) {
    throw new ConfigError('--ids and --limit go with --requeue');
  }
  return withSession(flags, async (session) => {
    const name = queueOf(session, queue);
    const deadLetter = await deadLetterOf(session.connection, name);
    if (flags.requeue) {
      const moved = await session.connection.moveItems(deadLetter, name, {
        ...(flags.ids ? { ids: flags.ids } : {}),
        ...(flags.limit !== undefined ? { limit: flags.limit } : {}),
      });
      if (flags.json) print(JSON.stringify({ from: deadLetter, to: name, moved }));
      else print(`requeued ${moved} item${moved === 1 ? '' : 's'} from ${deadLetter} to ${name}`);
      return 0;
    }
    if (flags.purge) return purgeNamed(session.connection, deadLetter, flags);
    await showItems(session.connection, deadLetter, 1000, flags.json);
    return 0;
  });
}

/** Options of `taskwire purge`. */
export interface PurgeFlags extends AdminFlags {
  yes?: boolean;
}

/** `taskwire purge <queue>`: remove every ready and delayed item, after a confirmation. */
export function purge(queue: string | undefined, flags: PurgeFlags): Promise<number> {
  return withSession(flags, (session) => purgeNamed(session.connection, queueOf(session, queue), flags));
}

async function purgeNamed(connection: Connection, name: string, flags: PurgeFlags): Promise<number> {
  if (!(await confirm(`purge every waiting item of ${name}?`, flags.yes))) {
    currentLogger('taskwire').warn(`${name} not purged`);
    return 1;
  }
  const removed = await connection.purgeQueue(name);
  if (flags.json) print(JSON.stringify({ queue: name, removed }));
  else print(`purged ${removed} item${removed === 1 ? '' : 's'} from ${name}`);
  return 0;
}

/** `taskwire migrate`: apply the transport's schema migrations, for transports that keep a schema. */
export async function migrate(flags: AdminFlags): Promise<number> {
  const settings = await settingsFrom(flags);
  const transport = await loadTransport(settings, (specifier) => import(specifier));
  if (!transport.migrate) {
    if (flags.json) print(JSON.stringify({ transport: transport.name, applied: [] }));
    else print(`nothing to migrate: the ${transport.name} transport keeps no schema`);
    return 0;
  }
  const authkey = await readAuthkey(settings);
  const applied = await transport.migrate({
    ...(settings.url !== undefined ? { url: settings.url } : {}),
    ...(authkey !== undefined ? { authkey } : {}),
  });
  if (flags.json) print(JSON.stringify({ transport: transport.name, applied }));
  else if (applied.length === 0) print(`${transport.name}: already up to date`);
  else print(`${transport.name}: applied ${applied.join(', ')}`);
  return 0;
}
