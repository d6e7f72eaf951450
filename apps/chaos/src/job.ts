import { type ChildProcess, spawn } from 'node:child_process';
import type { WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { MASTER_BIN } from './commands.js';
import type { ChaosTask } from './handler.js';
import { ResultLog } from './results.js';

/** How a job ended. */
export interface JobEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The job did not end by itself within its deadline and was stopped. */
  timedOut: boolean;
}

export interface JobSpec {
  masterArgs: string[];
  queue: string;
  env: Record<string, string>;
  tasks: ChaosTask[];
  /** Submit only this many tasks until {@link RunningJob.releaseInput} raises the limit. */
  holdInputAfter?: number;
  log: WriteStream;
  deadlineMs: number;
}

/** A `taskwire-master` job in flight: its input fed on stdin, its `--output -` read line by line. */
export interface RunningJob {
  readonly started: number;
  readonly results: ResultLog;
  readonly master: ChildProcess;
  /** Settles when the master exited (and its output was read to the end). */
  readonly ended: Promise<JobEnd>;
  /** Submit the held-back tasks up to `upTo` (default: all of them; see {@link JobSpec.holdInputAfter}). */
  releaseInput(upTo?: number): void;
}

/**
 * Attempts per task: more than the kill scenario's five SIGKILLs, so a task held by every killed worker is still
 * not given up and any failure but a poison task's is work lost. With 3, an unlucky task caught by three kills (a
 * prefetched one, then the same task run alone after each loss) failed with WorkerLostError, as it should.
 */
const MAX_ATTEMPTS = 6;

/** Start the real master on `spec.tasks`. */
export function startJob(spec: JobSpec, isPoison: (id: number) => boolean): RunningJob {
  const started = Date.now();
  const results = new ResultLog(started, isPoison, spec.tasks.length);
  const master = spawn(
    process.execPath,
    [
      MASTER_BIN,
      ...spec.masterArgs,
      ...['--queue', spec.queue, '--input', '-', '--output', '-', '--max-attempts', String(MAX_ATTEMPTS)],
    ],
    { env: { ...process.env, ...spec.env }, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  master.stderr.pipe(spec.log, { end: false });
  master.stdin.on('error', () => undefined); // a master that died mid-input: its exit tells the story
  // Tasks up to `limit` are submitted; the writer waits for `raise` when it reaches it.
  let limit = spec.holdInputAfter ?? spec.tasks.length;
  let raised: (() => void) | undefined;
  const releaseInput = (upTo = spec.tasks.length) => {
    limit = Math.max(limit, Math.min(spec.tasks.length, upTo));
    raised?.();
  };
  void (async () => {
    for (let next = 0; next < spec.tasks.length; ) {
      if (next >= limit) {
        await new Promise<void>((resolve) => {
          raised = resolve;
        });
        continue;
      }
      // Wait for the pipe to drain when its buffer is full.
      if (!master.stdin.write(`${JSON.stringify(spec.tasks[next++])}\n`)) {
        await new Promise((resolve) => master.stdin.once('drain', resolve));
      }
    }
    master.stdin.end();
  })().catch(() => undefined);

  const lines = createInterface({ input: master.stdout });
  lines.on('line', (line) => results.add(line));
  const outputRead = new Promise((resolve) => lines.once('close', resolve));
  let timedOut = false;
  const deadline = setTimeout(() => {
    timedOut = true;
    spec.log.write(`chaos: the job did not end within ${spec.deadlineMs} ms: SIGTERM\n`);
    master.kill('SIGTERM');
    setTimeout(() => master.kill('SIGKILL'), 10_000).unref();
  }, spec.deadlineMs);
  const ended = new Promise<JobEnd>((resolve) => {
    master.once('exit', (code, signal) => {
      clearTimeout(deadline);
      void outputRead.then(() => resolve({ code, signal, timedOut }));
    });
  });
  return { started, results, master, ended, releaseInput };
}
