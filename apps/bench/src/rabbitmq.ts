import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createRabbitMQTransport } from '@taskwire/transport-rabbitmq';
import amqp from 'amqplib';
import { Packr } from 'msgpackr';
import { median, parseArgs, printTable, rate, startWorker, stopWorker, timeRoundTrip } from './util.js';

type Mode = 'durable' | 'transient';
type Implementation = 'taskwire' | 'amqplib';

/** One measured run: tasks put by the master, computed by a worker process, results read back. */
interface Run {
  url: string;
  tasks: number;
  mode: Mode;
  tasksQueue: string;
  resultsQueue: string;
}

async function taskwireMaster(run: Run): Promise<number> {
  const connection = await createRabbitMQTransport().connect({
    url: run.url,
    durable: run.mode === 'durable',
  });
  try {
    const tasks = await connection.queue<{ n: number }>(run.tasksQueue);
    const results = await connection.queue<{ n: number; r: number }>(run.resultsQueue);
    const worker = await startWorker('rabbitmq-worker.js', workerArgs(run));
    const elapsed = await timeRoundTrip(tasks, results, run.tasks, 100);
    await stopWorker(worker);
    return elapsed;
  } finally {
    await connection.close();
  }
}

async function amqplibMaster(run: Run): Promise<number> {
  const durable = run.mode === 'durable';
  const packr = new Packr({ useRecords: false });
  const connection = await amqp.connect(run.url, { noDelay: true });
  try {
    const channel = await connection.createConfirmChannel();
    await channel.assertQueue(run.tasksQueue, { durable });
    await channel.assertQueue(run.resultsQueue, { durable });
    const worker = await startWorker('amqplib-worker.js', workerArgs(run));
    const consumer = await connection.createChannel();
    await consumer.prefetch(100);
    let received = 0;
    let finish: () => void = () => undefined;
    const done = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const started = performance.now();
    await consumer.consume(run.resultsQueue, (message) => {
      if (!message) return;
      packr.unpack(message.content);
      consumer.ack(message);
      if (++received === run.tasks) finish();
    });
    const confirms: Promise<void>[] = [];
    for (let n = 0; n < run.tasks; n++) {
      const content = packr.pack({ n });
      let ok = true;
      confirms.push(
        new Promise<void>((resolve, reject) => {
          ok = channel.publish('', run.tasksQueue, content, { persistent: durable }, (error: Error | null) =>
            error ? reject(error) : resolve(),
          );
        }),
      );
      if (!ok) await once(channel, 'drain');
    }
    await Promise.all(confirms);
    await done;
    const elapsed = performance.now() - started;
    await stopWorker(worker);
    return elapsed;
  } finally {
    await connection.close();
  }
}

/** What a bench worker needs: where, which queues, which mode. */
function workerArgs(run: Run): string[] {
  return [run.url, run.tasksQueue, run.resultsQueue, run.mode];
}

async function deleteQueues(url: string, names: string[]): Promise<void> {
  const connection = await amqp.connect(url);
  const channel = await connection.createChannel();
  for (const name of names) {
    await channel.deleteQueue(name);
    await channel.deleteExchange(`taskwire.options.${name}`);
  }
  await connection.close();
}

/**
 * `pnpm bench rabbitmq [--tasks N] [--runs R] [--url amqp://…]`: N tiny tasks master → worker
 * process → results, on taskwire and on hand-written amqplib (confirm channel, prefetch 100,
 * TCP_NODELAY), durable and transient, runs alternating between the two; medians and ratios.
 */
export async function main(args: string[]): Promise<void> {
  const options = parseArgs(args);
  const tasks = Number(options.tasks ?? 50_000);
  const runs = Number(options.runs ?? 3);
  const url = String(options.url ?? process.env.TASKWIRE_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672');
  const prefix = `tw-bench-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const times: Record<string, number[]> = {};
  const masters: Record<Implementation, (run: Run) => Promise<number>> = {
    taskwire: taskwireMaster,
    amqplib: amqplibMaster,
  };

  for (const mode of ['durable', 'transient'] as const) {
    for (let i = 0; i < runs; i++) {
      const order: Implementation[] = i % 2 === 0 ? ['taskwire', 'amqplib'] : ['amqplib', 'taskwire'];
      for (const implementation of order) {
        const run: Run = {
          url,
          tasks,
          mode,
          tasksQueue: `${prefix}.${mode}.${implementation}.${i}.tasks`,
          resultsQueue: `${prefix}.${mode}.${implementation}.${i}.results`,
        };
        try {
          const elapsed = await masters[implementation](run);
          const key = `${mode} ${implementation}`;
          times[key] = [...(times[key] ?? []), elapsed];
          console.log(`${mode.padEnd(9)} ${implementation.padEnd(8)} run ${i + 1}: ${rate(tasks, elapsed)}`);
        } finally {
          await deleteQueues(url, [run.tasksQueue, run.resultsQueue]);
        }
      }
    }
  }

  printTable(
    `RabbitMQ — ${tasks.toLocaleString('en-US')} tasks master → worker → results, ${runs} runs each (median)`,
    (['durable', 'transient'] as const).flatMap((mode) => {
      const ours = median(times[`${mode} taskwire`]!);
      const theirs = median(times[`${mode} amqplib`]!);
      return [
        {
          mode,
          implementation: 'taskwire',
          'median ms': Math.round(ours),
          'tasks/s': rate(tasks, ours),
          ratio: '',
        },
        {
          mode,
          implementation: 'amqplib (hand-written)',
          'median ms': Math.round(theirs),
          'tasks/s': rate(tasks, theirs),
          ratio: '',
        },
        {
          mode,
          implementation: 'taskwire ÷ amqplib',
          'median ms': '',
          'tasks/s': '',
          ratio: (theirs / ours).toFixed(2),
        },
      ];
    }),
  );
}
