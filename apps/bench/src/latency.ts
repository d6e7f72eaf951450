// `pnpm bench latency`: submit → result latency with one task in flight, per transport.
//
//   --tasks 2000          measured sequential tasks per run (after --warmup more)
//   --warmup 200          tasks run first and not measured
//   --runs 3              runs per contender, alternating (medians of each percentile are reported)
//   --transports tcp,redis,rabbitmq
//   --redis redis://127.0.0.1:6379     --rabbitmq amqp://guest:guest@127.0.0.1:5672
//   --only taskwire       only the contenders whose name contains this
//   --count               also count the Redis commands per task (MONITOR; a separate short run)
import { randomBytes, randomUUID } from 'node:crypto';
import { type Connection, Master } from '@taskwire/core';
import { createRabbitMQTransport } from '@taskwire/transport-rabbitmq';
import { createRedisTransport } from '@taskwire/transport-redis';
import { serve } from '@taskwire/transport-tcp';
import amqp from 'amqplib';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { Packr } from 'msgpackr';
import { countRedisCommands } from './redis-monitor.js';
import { median, parseArgs, printTable, startWorker, stopWorker } from './util.js';

const AUTHKEY = 'taskwire-bench-authkey';

/** Send one task and resolve once its result is back. */
type RoundTrip = (n: number) => Promise<void>;

/** A contender, started: its round trip, and how to tear it down. */
interface Started {
  roundTrip: RoundTrip;
  stop(): Promise<void>;
}

interface Contender {
  transport: string;
  name: string;
  start(): Promise<Started>;
}

/** Milliseconds of each of `count` sequential round trips, after `warmup` unmeasured ones. */
async function measure(roundTrip: RoundTrip, count: number, warmup: number): Promise<number[]> {
  for (let n = 0; n < warmup; n++) await roundTrip(n);
  const times: number[] = [];
  for (let n = 0; n < count; n++) {
    const started = performance.now();
    await roundTrip(n);
    times.push(performance.now() - started);
  }
  return times;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** The task layer: a Master here, one forked Worker, on `connection` (the worker connects to `url`). */
async function taskLayer(transport: string, url: string, connection: Connection): Promise<Started> {
  const queue = `bench-latency-${randomBytes(4).toString('hex')}`;
  const worker = await startWorker('latency-worker.js', [transport, url, queue]);
  const master = await Master.start({ connection, queue });
  return {
    roundTrip: async (n) => {
      const result = await master.submit<number>(n);
      if (result.value !== n * n) throw new Error(`wrong result for ${n}`);
    },
    stop: async () => {
      await stopWorker(worker);
      await master.close();
      const tasks = await connection.queue(queue);
      await tasks.delete();
      await connection.close();
    },
  };
}

function taskwireTcp(): Contender {
  return {
    transport: 'tcp',
    name: 'taskwire (Master + Worker)',
    async start() {
      process.env.TASKWIRE_AUTHKEY = AUTHKEY;
      const server = await serve({ port: 0, authkey: AUTHKEY });
      const started = await taskLayer('tcp', server.url, await server.connect());
      return {
        roundTrip: started.roundTrip,
        stop: async () => {
          await started.stop();
          await server.close();
        },
      };
    },
  };
}

function taskwireRedis(url: string, prefix: string): Contender {
  return {
    transport: 'redis',
    name: 'taskwire (Master + Worker)',
    start: async () => {
      const withPrefix = `${url}${url.includes('?') ? '&' : '?'}prefix=${prefix}`;
      return taskLayer('redis', withPrefix, await createRedisTransport().connect({ url: withPrefix }));
    },
  };
}

function bullmq(url: string, prefix: string): Contender {
  return {
    transport: 'redis',
    name: 'BullMQ (add + waitUntilFinished)',
    async start() {
      const name = `latency-${randomBytes(4).toString('hex')}`;
      const connection = new Redis(url, { maxRetriesPerRequest: null });
      const queue = new Queue<number, number>(name, { connection, prefix });
      const events = new QueueEvents(name, { connection: { url }, prefix });
      await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
      const worker = await startWorker('bullmq-latency-worker.js', [url, prefix, name]);
      // Kept a while: waitUntilFinished looks the finished job up.
      const opts = { removeOnComplete: { count: 1000 }, removeOnFail: { count: 1000 } };
      return {
        roundTrip: async (n) => {
          const job = await queue.add('task', n, opts);
          const value = (await job.waitUntilFinished(events)) as number;
          if (value !== n * n) throw new Error(`wrong result for ${n}`);
        },
        stop: async () => {
          await stopWorker(worker);
          await queue.obliterate({ force: true });
          await events.close();
          await queue.close();
          connection.disconnect();
        },
      };
    },
  };
}

function taskwireRabbitMQ(url: string): Contender {
  return {
    transport: 'rabbitmq',
    name: 'taskwire (Master + Worker)',
    start: async () => taskLayer('rabbitmq', url, await createRabbitMQTransport().connect({ url })),
  };
}

/** Raw amqplib RPC: one channel, requests to a queue, answers on direct reply-to. */
function amqplibRpc(url: string): Contender {
  return {
    transport: 'rabbitmq',
    name: 'amqplib RPC (direct reply-to)',
    async start() {
      const name = `bench-latency-rpc-${randomBytes(4).toString('hex')}`;
      const packr = new Packr({ useRecords: false });
      const connection = await amqp.connect(url, { noDelay: true });
      const channel = await connection.createChannel();
      await channel.assertQueue(name, { durable: false });
      const worker = await startWorker('amqplib-rpc-worker.js', [url, name]);
      const waiting = new Map<string, (value: number) => void>();
      await channel.consume(
        'amq.rabbitmq.reply-to',
        (message) => {
          if (!message) return;
          waiting.get(message.properties.correlationId as string)?.(packr.unpack(message.content) as number);
        },
        { noAck: true },
      );
      return {
        roundTrip: async (n) => {
          const correlationId = randomUUID();
          const value = await new Promise<number>((resolve) => {
            waiting.set(correlationId, resolve);
            channel.sendToQueue(name, packr.pack(n), { correlationId, replyTo: 'amq.rabbitmq.reply-to' });
          });
          waiting.delete(correlationId);
          if (value !== n * n) throw new Error(`wrong result for ${n}`);
        },
        stop: async () => {
          await stopWorker(worker);
          await channel.deleteQueue(name);
          await connection.close();
        },
      };
    },
  };
}

/** Run the benchmark. */
export async function main(args: string[]): Promise<void> {
  const options = parseArgs(args);
  const tasks = Number(options.tasks ?? 2000);
  const warmup = Number(options.warmup ?? 200);
  const runs = Number(options.runs ?? 3);
  const transports = String(options.transports ?? 'tcp,redis,rabbitmq').split(',');
  const redisUrl = typeof options.redis === 'string' ? options.redis : 'redis://127.0.0.1:6379';
  const rabbitUrl =
    typeof options.rabbitmq === 'string' ? options.rabbitmq : 'amqp://guest:guest@127.0.0.1:5672';
  const prefix = `twlat-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

  let contenders: Contender[] = [];
  if (transports.includes('tcp')) contenders.push(taskwireTcp());
  if (transports.includes('redis'))
    contenders.push(taskwireRedis(redisUrl, prefix), bullmq(redisUrl, prefix));
  if (transports.includes('rabbitmq')) contenders.push(taskwireRabbitMQ(rabbitUrl), amqplibRpc(rabbitUrl));

  // --only <text>: just the contenders whose name contains it (e.g. taskwire, BullMQ).
  if (typeof options.only === 'string')
    contenders = contenders.filter((c) => c.name.includes(String(options.only)));
  const results = new Map<Contender, { p50: number[]; p90: number[]; p99: number[] }>(
    contenders.map((c) => [c, { p50: [], p90: [], p99: [] }]),
  );
  for (let run = 0; run < runs; run++) {
    // Alternate the order, so no contender always runs first (or on a warmer broker).
    const order = run % 2 === 0 ? contenders : [...contenders].reverse();
    for (const contender of order) {
      const started = await contender.start();
      let times: number[];
      try {
        times = (await measure(started.roundTrip, tasks, warmup)).sort((a, b) => a - b);
      } finally {
        await started.stop();
      }
      const r = results.get(contender)!;
      r.p50.push(percentile(times, 50));
      r.p90.push(percentile(times, 90));
      r.p99.push(percentile(times, 99));
      console.log(
        `run ${run + 1} ${contender.transport} ${contender.name}: p50 ${percentile(times, 50).toFixed(3)} ms, p99 ${percentile(times, 99).toFixed(3)} ms`,
      );
    }
  }
  const ms = (values: number[]) => median(values).toFixed(3);
  printTable(
    `Submit → result, one task in flight: ${tasks.toLocaleString('en-US')} sequential tasks after ${warmup} warm-up, ${runs} alternating runs (medians, ms)`,
    contenders.map((c) => {
      const r = results.get(c)!;
      return {
        transport: c.transport,
        implementation: c.name,
        p50: ms(r.p50),
        p90: ms(r.p90),
        p99: ms(r.p99),
      };
    }),
  );

  if (options.count !== undefined && transports.includes('redis')) {
    const counted = 200;
    const rows: Record<string, string | number>[] = [];
    for (const contender of contenders.filter((c) => c.transport === 'redis')) {
      const started = await contender.start();
      try {
        await measure(started.roundTrip, 0, warmup);
        const counts = await countRedisCommands(redisUrl, prefix, () =>
          measure(started.roundTrip, counted, 0),
        );
        rows.push({
          implementation: contender.name,
          'commands per task': (counts.client / counted).toFixed(2),
          'of which blocking': (counts.blocking / counted).toFixed(2),
          'commands run inside scripts per task': (counts.lua / counted).toFixed(2),
          'client commands by name': Object.entries(counts.byName)
            .map(([name, calls]) => `${name} ${(calls / counted).toFixed(2)}`)
            .join(', '),
        });
      } finally {
        await started.stop();
      }
    }
    printTable(`Redis commands per task (MONITOR, ${counted} sequential tasks, keys of this run only)`, rows);
  }
}
