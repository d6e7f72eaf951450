import type { FaultProxy } from '@taskwire/conformance/fault-proxy';
import type { CellBackend, TransportName } from './backends.js';
import { fuzzManager } from './fuzzer.js';
import type { WorkerPool } from './workers.js';

/** Durations and sizes of the faults. */
export interface FaultSettings {
  /** How long a SIGSTOPped worker stays stopped (longer than the Redis lease: its tasks go elsewhere). */
  stallMs: number;
  /** How long the workers' link stays down. */
  cutMs: number;
  /** How long the broker stays down. */
  brokerDownMs: number;
  /** Hostile frames the fuzzer sends. */
  fuzzFrames: number;
}

/** What a scenario's fault injection can reach while its job runs. */
export interface FaultContext {
  readonly workers: WorkerPool;
  /** The fault proxy the workers' connections go through (absent: the transport has no socket). */
  readonly proxy?: FaultProxy;
  readonly backend: CellBackend;
  readonly settings: FaultSettings;
  /** Resolves true once this fraction of the tasks has a result, false if the job ended first. */
  at(fraction: number): Promise<boolean>;
  /** Run one fault, recording its window (shaded in the chart, the start of a recovery). */
  fault(label: string, inject: () => Promise<void>): Promise<void>;
  /** A remark for the table's notes. */
  note(text: string): void;
  /** A failure the counts do not show (the cell fails, `text` goes to its notes). */
  fail(text: string): void;
  /** Submit the tasks held back by {@link Scenario.holdInputAfter}, up to this fraction of all (default 1). */
  releaseInput(fraction?: number): void;
}

/** One row of faults in the table. */
export interface Scenario {
  readonly name: string;
  readonly summary: string;
  /** Why this scenario does not apply to `transport`, or undefined when it does. */
  notApplicable(transport: TransportName, backend: CellBackend): string | undefined;
  /** Which tasks are poison (of `total`). */
  poison?(id: number, total: number): 'throw' | 'kill' | undefined;
  /** Submit only this fraction of the tasks until the injection calls `releaseInput()`. */
  holdInputAfter?: number;
  inject(context: FaultContext): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const KILL_POINTS = [0.15, 0.3, 0.45, 0.6, 0.75];
/** Tasks that kill their worker's process: few, since each one takes every task its worker holds down with it. */
const KILLER_TASKS = 3;
/** One task in this many throws. */
const THROW_EVERY = 200;

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'kill',
    summary: `SIGKILL a worker at ${KILL_POINTS.map((f) => `${f * 100}%`).join(', ')} of the results, a new one started 250 ms later`,
    notApplicable: () => undefined,
    async inject(context) {
      for (const [index, point] of KILL_POINTS.entries()) {
        if (!(await context.at(point))) return;
        await context.fault(`SIGKILL worker ${index % context.workers.size}`, async () => {
          context.workers.signal(index, 'SIGKILL');
          await sleep(250);
        });
      }
    },
  },
  {
    name: 'stall',
    summary: 'SIGSTOP a worker at 30% of the results, SIGCONT it later (stalled, not dead)',
    notApplicable: () => undefined,
    async inject(context) {
      if (!(await context.at(0.3))) return;
      await context.fault('worker SIGSTOPped', async () => {
        context.workers.signal(0, 'SIGSTOP');
        await sleep(context.settings.stallMs);
        context.workers.signal(0, 'SIGCONT');
      });
    },
  },
  {
    name: 'cut',
    summary:
      "the workers' link cut at 30% of the results (a fault proxy resets every connection), restored later",
    notApplicable: (_, backend) =>
      backend.linkPort === undefined ? 'no network link (one file)' : undefined,
    async inject(context) {
      const proxy = context.proxy!;
      if (!(await context.at(0.3))) return;
      await context.fault('link down', async () => {
        proxy.down();
        await sleep(context.settings.cutMs);
        proxy.up();
      });
    },
  },
  {
    name: 'restart',
    summary: 'the broker SIGKILLed at 30% of the results and started again later (private broker, data kept)',
    notApplicable: (transport, backend) => {
      if (backend.restart) return undefined;
      return transport === 'tcp'
        ? 'the manager is the master itself: its restart is a new job'
        : 'no server to restart (one file)';
    },
    async inject(context) {
      const restart = context.backend.restart!;
      if (!(await context.at(0.3))) return;
      await context.fault('broker down', async () => {
        await restart.down();
        await sleep(context.settings.brokerDownMs);
        await restart.up();
      });
      context.note(restart.what);
    },
  },
  {
    name: 'stop',
    summary:
      "the broker stopped by its operator at 30% of the results (RabbitMQ's `stop_app`: connections closed with CONNECTION-FORCED), started again later",
    notApplicable: (_, backend) =>
      backend.operatorStop ? undefined : 'no operator stop that keeps the server (see restart)',
    // rabbitmqctl takes seconds to act on a loaded machine, longer than the rest of a job: half the
    // tasks wait until the broker is back, so the stop always lands inside the job.
    holdInputAfter: 0.5,
    async inject(context) {
      const stop = context.backend.operatorStop!;
      try {
        if (!(await context.at(0.3))) return;
        await context.fault('broker stopped', async () => {
          await stop.down();
          await sleep(context.settings.brokerDownMs);
          await stop.up();
        });
        context.note(stop.what);
      } finally {
        context.releaseInput();
      }
    },
  },
  {
    name: 'poison',
    summary: `one task in ${THROW_EVERY} throws; ${KILLER_TASKS} tasks kill their worker's process`,
    notApplicable: () => undefined,
    poison(id, total) {
      const killerSpacing = Math.floor(total / (KILLER_TASKS + 1));
      if (killerSpacing > 0 && id % killerSpacing === 0 && id > 0 && id / killerSpacing <= KILLER_TASKS)
        return 'kill';
      return id % THROW_EVERY === THROW_EVERY - 1 ? 'throw' : undefined;
    },
    async inject() {},
  },
  {
    name: 'fuzz',
    summary:
      'hostile frames (fast-check) at the TCP manager, unauthenticated and authenticated, while the job runs',
    notApplicable: (transport) =>
      transport === 'tcp' ? undefined : 'the fuzzer speaks the TCP manager protocol',
    // Half the tasks go at once, the rest as the frames go out, the last 1% after the fuzzer's final
    // handshake: real work runs all through the fuzz, and the manager is still up when it ends.
    holdInputAfter: 0.5,
    async inject(context) {
      const manager = context.backend.manager!;
      try {
        await context.fault('fuzzer', async () => {
          const report = await fuzzManager({
            ...manager,
            frames: context.settings.fuzzFrames,
            onProgress: (sent) => context.releaseInput(0.5 + 0.49 * sent),
          });
          if (!report.managerAnswers) context.fail('the manager stopped answering handshakes');
          context.note(
            `${report.frames} hostile frames (${report.authenticatedFrames} authenticated) on ${report.connections} connections, seed ${report.seed}; ${report.refusedHandshakes} honest handshakes failed; manager ${report.managerAnswers ? 'still answers a handshake' : 'DOES NOT ANSWER a handshake'}`,
          );
        });
      } finally {
        context.releaseInput();
      }
    },
  },
];

/** The scenario names, in the table's order. */
export const SCENARIO_NAMES = SCENARIOS.map((scenario) => scenario.name);
