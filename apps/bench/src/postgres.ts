import { randomBytes } from 'node:crypto';
import { createPostgresTransport } from '@taskwire/transport-postgres';
import { pack } from 'msgpackr';
import pg from 'pg';
import PgBoss from 'pg-boss';
import { median, parseArgs, printTable, rate, startWorker, stopWorker, timeRoundTrip } from './util.js';

/**
 * `pnpm bench postgres [--tasks 20000] [--runs 3] [--url postgres://postgres@127.0.0.1:5432/test] [--prefetch 500]
 * [--only taskwire|pg-boss|raw]`
 *
 * The same job on the same PostgreSQL, each implementation in a schema of its own (dropped afterwards): the master
 * puts `tasks` tiny tasks, a worker process computes each and puts a result, the master reads every result back.
 * taskwire against pg-boss (batched `insert`, `work` with `batchSize` at its shortest polling interval) and against
 * a hand-written SKIP LOCKED loop with `pg` (batched takes and inserts, LISTEN/NOTIFY wake-ups, prepared statements).
 * Each worker runs two takers with half the prefetch each (taskwire's consumers, pg-boss's `work()` calls, the loop's
 * sessions), so all three take the same batches with the same concurrency.
 * Runs alternate; medians and the ratios are printed.
 */

type Implementation = 'taskwire' | 'pg-boss' | 'raw';
const IMPLEMENTATIONS: readonly Implementation[] = ['taskwire', 'pg-boss', 'raw'];

interface Run {
  url: string;
  schema: string;
  tasks: number;
  prefetch: number;
}

async function taskwireRun(run: Run): Promise<number> {
  const connection = await createPostgresTransport().connect({ url: run.url, schema: run.schema });
  try {
    const tasks = await connection.queue<{ n: number }>('tasks');
    const results = await connection.queue<{ n: number; r: number }>('results');
    const worker = await startWorker('postgres-worker.js', [
      run.url,
      run.schema,
      'tasks',
      'results',
      String(run.prefetch / 2),
      '2',
    ]);
    const elapsed = await timeRoundTrip(tasks, results, run.tasks, 1000);
    await stopWorker(worker);
    return elapsed;
  } finally {
    await connection.close();
  }
}

async function pgBossRun(run: Run): Promise<number> {
  const boss = new PgBoss({ connectionString: run.url, schema: run.schema });
  boss.on('error', (error) => console.error(error));
  await boss.start();
  try {
    await boss.createQueue('tasks');
    await boss.createQueue('results');
    // Two workers of half the prefetch each: the same batches and concurrency as taskwire's two consumers.
    const worker = await startWorker('pgboss-worker.js', [
      run.url,
      run.schema,
      'tasks',
      'results',
      String(run.prefetch / 2),
      '2',
    ]);
    let received = 0;
    let finish: () => void = () => undefined;
    const done = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const started = performance.now();
    await boss.work<{ n: number }>(
      'results',
      { batchSize: 1000, pollingIntervalSeconds: 0.5 },
      async (jobs) => {
        received += jobs.length;
        if (received >= run.tasks) finish();
      },
    );
    for (let start = 0; start < run.tasks; start += 1000) {
      const end = Math.min(run.tasks, start + 1000);
      const jobs = [];
      for (let n = start; n < end; n++) jobs.push({ name: 'tasks', data: { n } });
      await boss.insert(jobs);
    }
    await done;
    const elapsed = performance.now() - started;
    await stopWorker(worker);
    return elapsed;
  } finally {
    await boss.stop({ graceful: false, wait: true });
  }
}

async function rawRun(run: Run): Promise<number> {
  const { schema } = run;
  const client = new pg.Client({ connectionString: run.url });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA ${schema}`);
    for (const table of ['tasks', 'results']) {
      await client.query(
        `CREATE TABLE ${schema}.${table} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, payload bytea NOT NULL)`,
      );
    }
    await client.query(`LISTEN ${schema}_results`);
    let wake: () => void = () => undefined;
    client.on('notification', () => wake());
    // Two sessions taking half the prefetch each: the same batches and concurrency as taskwire's two consumers.
    const worker = await startWorker('pg-raw-worker.js', [run.url, schema, String(run.prefetch / 2), '2']);
    const started = performance.now();
    for (let start = 0; start < run.tasks; start += 1000) {
      const payloads = [];
      for (let n = start; n < Math.min(run.tasks, start + 1000); n++) payloads.push(pack({ n }));
      await client.query(
        `WITH i AS (INSERT INTO ${schema}.tasks (payload) SELECT unnest($1::bytea[]))
         SELECT pg_notify('${schema}_tasks', '')`,
        [payloads],
      );
    }
    let received = 0;
    while (received < run.tasks) {
      const { rowCount } = await client.query({
        name: 'take',
        text: `DELETE FROM ${schema}.results WHERE id IN (
           SELECT id FROM ${schema}.results ORDER BY id LIMIT 1000 FOR UPDATE SKIP LOCKED) RETURNING payload`,
      });
      received += rowCount ?? 0;
      if (rowCount === 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 100);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    }
    const elapsed = performance.now() - started;
    await stopWorker(worker);
    return elapsed;
  } finally {
    await client.end();
  }
}

async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}

const RUNNERS: Record<Implementation, (run: Run) => Promise<number>> = {
  taskwire: taskwireRun,
  'pg-boss': pgBossRun,
  raw: rawRun,
};

/** Run the benchmark. */
export async function main(args: string[]): Promise<void> {
  const options = parseArgs(args);
  const url = typeof options.url === 'string' ? options.url : 'postgres://postgres@127.0.0.1:5432/test';
  const tasks = Number(options.tasks ?? 20_000);
  const runs = Number(options.runs ?? 3);
  const prefetch = Number(options.prefetch ?? 500);
  const base = `twbench_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const times: Record<Implementation, number[]> = { taskwire: [], 'pg-boss': [], raw: [] };
  for (let i = 0; i < runs; i++) {
    // Rotate which goes first, so none always runs on a warmer server.
    const order = IMPLEMENTATIONS.map((_, k) => IMPLEMENTATIONS[(k + i) % IMPLEMENTATIONS.length]!);
    for (const implementation of order) {
      if (options.only !== undefined && options.only !== implementation) continue;
      const run = { url, schema: `${base}_${implementation.replace('-', '')}_${i}`, tasks, prefetch };
      try {
        const ms = await RUNNERS[implementation](run);
        times[implementation].push(ms);
        console.log(
          `${implementation} run ${i + 1}: ${tasks} tasks in ${ms.toFixed(0)} ms (${rate(tasks, ms)})`,
        );
      } finally {
        await dropSchema(url, run.schema);
      }
    }
  }
  if (options.only !== undefined) return;
  const [taskwire, boss, raw] = IMPLEMENTATIONS.map((implementation) => median(times[implementation]));
  printTable(`PostgreSQL: ${tasks} tasks master → worker process → results, acked (median of ${runs})`, [
    {
      implementation: `taskwire (2 consumers, prefetch ${prefetch / 2} each)`,
      'median ms': Math.round(taskwire!),
      rate: rate(tasks, taskwire!),
    },
    {
      implementation: `pg-boss (2 workers, batchSize ${prefetch / 2} each, polling 0.5 s)`,
      'median ms': Math.round(boss!),
      rate: rate(tasks, boss!),
    },
    {
      implementation: `SKIP LOCKED loop with pg (2 sessions, batch ${prefetch / 2} each)`,
      'median ms': Math.round(raw!),
      rate: rate(tasks, raw!),
    },
  ]);
  console.log(`taskwire / pg-boss throughput: ${(boss! / taskwire!).toFixed(2)}×`);
  console.log(`taskwire / SKIP LOCKED loop throughput: ${(raw! / taskwire!).toFixed(2)}×`);
}
