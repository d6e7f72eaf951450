// How taskwire-master hands a local worker it forked its arguments. The master forks its workers
// before it has loaded its own modules (so the workers' start-up overlaps the master's) and before it
// knows their URL and authkey; it sends them once the manager listens. Only Node built-ins here: the
// master loads this module before anything else.
import type { ChildProcess } from 'node:child_process';

/** Set to `1` in the environment of a worker that must wait for its {@link Handoff}. */
export const HANDOFF_ENV = 'TASKWIRE_HANDOFF';

/** What the master sends a forked worker. */
export interface Handoff {
  /** `taskwire-worker` arguments, as on its command line. */
  args: string[];
  /** Added to the worker's environment (secrets go here, never in `args`). */
  env: Record<string, string>;
}

/** Send a forked worker its arguments; a worker that has already exited is left to its exit handler. */
export function sendHandoff(child: ChildProcess, handoff: Handoff): void {
  if (child.connected) child.send(handoff, () => undefined);
}

/**
 * In a worker: when the master forked it to wait ({@link HANDOFF_ENV}), wait for the arguments and
 * add the environment; otherwise `undefined` (use `process.argv`). If the master goes away first
 * (it failed, or needed no worker), exit 1 without a word: the master reports its own error.
 */
export function receiveHandoff(): Promise<string[] | undefined> {
  if (process.env[HANDOFF_ENV] !== '1' || !process.send) return Promise.resolve(undefined);
  // Not inherited by anything this worker starts.
  delete process.env[HANDOFF_ENV];
  const gone = () => process.exit(1);
  if (!process.connected) gone();
  return new Promise((resolve) => {
    process.once('disconnect', gone);
    process.once('message', (handoff: Handoff) => {
      process.off('disconnect', gone);
      Object.assign(process.env, handoff.env);
      resolve(handoff.args);
    });
  });
}
