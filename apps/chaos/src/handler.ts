// The handler the chaos workers run (`taskwire-worker --handler <this file>`): a little simulated
// work per task, and poison inputs that throw or kill the worker's process.

/** One chaos task: its id (unique within a job), how long it works, and whether it is poison. */
export interface ChaosTask {
  i: number;
  ms: number;
  poison?: 'throw' | 'kill';
}

/** Raised by a `throw` poison task: a handler bug the caller must see as a clear failure. */
export class PoisonTaskError extends Error {
  override readonly name = 'PoisonTaskError';
}

export default async function chaosHandler(task: ChaosTask): Promise<number> {
  if (task.poison === 'throw') throw new PoisonTaskError(`poison task ${task.i}`);
  // A native crash or an out-of-memory kill: the process dies with every task it holds.
  if (task.poison === 'kill') process.kill(process.pid, 'SIGKILL');
  if (task.ms > 0) await new Promise((resolve) => setTimeout(resolve, task.ms));
  return task.i;
}
