import { randomBytes } from 'node:crypto';
import { createNatsTransport } from '@taskwire/transport-nats';
import { Packr } from 'msgpackr';
import { AckPolicy, connect, type NatsConnection, RetentionPolicy, StorageType } from 'nats';
import { median, parseArgs, printTable, rate, startWorker, stopWorker, timeRoundTrip } from './util.js';

type Implementation = 'taskwire' | 'nats.js';

/** One measured run: tasks put by the master, computed by a worker process, results read back. */
interface Run {
  url: string;
  tasks: number;
  prefix: string;
  tasksQueue: string;
  resultsQueue: string;
}

async function taskwireMaster(run: Run): Promise<number> {
  const connection = await createNatsTransport().connect({ url: run.url, prefix: run.prefix });
  try {
    const tasks = await connection.queue<{ n: number }>(run.tasksQueue);
    const results = await connection.queue<{ n: number; r: number }>(run.resultsQueue);
    const worker = await startWorker('nats-worker.js', [
      run.url,
      run.prefix,
      run.tasksQueue,
      run.resultsQueue,
    ]);
    const elapsed = await timeRoundTrip(tasks, results, run.tasks, 100);
    await stopWorker(worker);
    return elapsed;
  } finally {
    await connection.close();
  }
}

/** The best hand-written equivalent on nats.js: work-queue streams, batched pull consumers, async acks. */
async function natsjsMaster(run: Run): Promise<number> {
  const packr = new Packr({ useRecords: false });
  const nc = await connect({ servers: new URL(run.url).host });
  try {
    const jsm = await nc.jetstreamManager();
    const js = nc.jetstream();
    const [tasksStream, resultsStream] = [run.tasksQueue, run.resultsQueue].map(
      (name) => `${run.prefix}_${name}`,
    );
    for (const stream of [tasksStream, resultsStream] as string[]) {
      await jsm.streams.add({
        name: stream,
        subjects: [`${stream}.items`],
        retention: RetentionPolicy.Workqueue,
        storage: StorageType.File,
      });
      await jsm.consumers.add(stream, {
        durable_name: 'bench',
        ack_policy: AckPolicy.Explicit,
        max_ack_pending: -1,
      });
    }
    const worker = await startWorker('natsjs-worker.js', [run.url, tasksStream!, `${resultsStream}.items`]);
    const results = await (await js.consumers.get(resultsStream!, 'bench')).consume({ max_messages: 100 });
    let received = 0;
    const started = performance.now();
    const done = (async () => {
      for await (const message of results) {
        packr.unpack(message.data);
        message.ack();
        if (++received === run.tasks) break;
      }
    })();
    // Published in windows of 1024 awaiting their PubAcks, as taskwire's putMany does.
    for (let start = 0; start < run.tasks; start += 1024) {
      const published: Promise<unknown>[] = [];
      for (let n = start; n < Math.min(start + 1024, run.tasks); n++) {
        published.push(js.publish(`${tasksStream}.items`, packr.pack({ n })));
      }
      await Promise.all(published);
    }
    await done;
    const elapsed = performance.now() - started;
    await stopWorker(worker);
    return elapsed;
  } finally {
    await nc.close();
  }
}

async function deleteStreams(url: string, prefix: string): Promise<void> {
  const nc: NatsConnection = await connect({ servers: new URL(url).host });
  const jsm = await nc.jetstreamManager();
  const doomed: string[] = [];
  for await (const stream of jsm.streams.names()) if (stream.startsWith(`${prefix}_`)) doomed.push(stream);
  for (const stream of doomed) await jsm.streams.delete(stream);
  await nc.close();
}

/**
 * `pnpm bench nats [--tasks N] [--runs R] [--url nats://…]`: N tiny tasks master → worker process → results, on
 * taskwire and on a hand-written nats.js JetStream pull consumer (batched consume, async acks, a PubAck awaited
 * per result), runs alternating between the two; medians and the ratio.
 */
export async function main(args: string[]): Promise<void> {
  const options = parseArgs(args);
  const tasks = Number(options.tasks ?? 20_000);
  const runs = Number(options.runs ?? 3);
  const url = String(options.url ?? process.env.TASKWIRE_NATS_URL ?? 'nats://127.0.0.1:4222');
  const prefix = `twbench_${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const times: Record<Implementation, number[]> = { taskwire: [], 'nats.js': [] };
  const masters: Record<Implementation, (run: Run) => Promise<number>> = {
    taskwire: taskwireMaster,
    'nats.js': natsjsMaster,
  };
  try {
    for (let i = 0; i < runs; i++) {
      const order: Implementation[] = i % 2 === 0 ? ['taskwire', 'nats.js'] : ['nats.js', 'taskwire'];
      for (const implementation of order) {
        const run: Run = {
          url,
          tasks,
          prefix,
          tasksQueue: `${implementation.replace('.', '')}-${i}-tasks`,
          resultsQueue: `${implementation.replace('.', '')}-${i}-results`,
        };
        const elapsed = await masters[implementation](run);
        times[implementation].push(elapsed);
        console.log(`${implementation.padEnd(8)} run ${i + 1}: ${rate(tasks, elapsed)}`);
      }
    }
  } finally {
    await deleteStreams(url, prefix);
  }
  const ours = median(times.taskwire);
  const theirs = median(times['nats.js']);
  printTable(
    `NATS JetStream — ${tasks.toLocaleString('en-US')} tasks master → worker → results, ${runs} runs each (median)`,
    [
      { implementation: 'taskwire', 'median ms': Math.round(ours), 'tasks/s': rate(tasks, ours) },
      {
        implementation: 'nats.js (hand-written)',
        'median ms': Math.round(theirs),
        'tasks/s': rate(tasks, theirs),
      },
      { implementation: 'taskwire ÷ nats.js', 'median ms': '', 'tasks/s': (theirs / ours).toFixed(2) },
    ],
  );
}
