import { Redis } from 'ioredis';

/** Commands sent to Redis while a piece of work ran, as MONITOR saw them. */
export interface CommandCounts {
  /** Commands sent by clients (each a request and its reply: one round trip, pipelined or not). */
  client: number;
  /** Of those, blocking pops (BLPOP, BZPOPMIN, XREAD BLOCK, …). */
  blocking: number;
  /** Commands run inside Lua scripts (no round trip of their own). */
  lua: number;
  /** Client commands by name. */
  byName: Record<string, number>;
}

const BLOCKING = new Set(['blpop', 'brpop', 'blmove', 'brpoplpush', 'bzpopmin', 'bzpopmax', 'blmpop']);

/**
 * Count the commands touching keys that contain `marker` (the run's key prefix) while `work` runs.
 * MONITOR sees every client of the server, so other clients' traffic is filtered out by key.
 */
export async function countRedisCommands(
  url: string,
  marker: string,
  work: () => Promise<unknown>,
): Promise<CommandCounts> {
  const counts: CommandCounts = { client: 0, blocking: 0, lua: 0, byName: {} };
  const monitor = await new Redis(url).monitor();
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (!args.some((arg) => arg.includes(marker))) return;
    if (source === 'lua') {
      counts.lua++;
      return;
    }
    const name = args[0]!.toLowerCase();
    const blocking =
      BLOCKING.has(name) || (name === 'xread' && args.some((a) => a.toUpperCase() === 'BLOCK'));
    counts.client++;
    if (blocking) counts.blocking++;
    counts.byName[name] = (counts.byName[name] ?? 0) + 1;
  });
  try {
    await work();
    // Let MONITOR's feed catch up with the last commands.
    await new Promise((resolve) => setTimeout(resolve, 200));
  } finally {
    monitor.disconnect();
  }
  return counts;
}
