import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { encodeName } from '@taskwire/transport-nats';
import amqp from 'amqplib';
import { Redis } from 'ioredis';
import { connect as connectNats } from 'nats';
import { type Backend, brokerBackend } from './backends.js';

const run = promisify(execFile);

export const REDIS_URL = process.env.TASKWIRE_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const AMQP_URL = process.env.TASKWIRE_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** Every Redis key whose name contains `queue`. */
export async function redisKeysOf(queue: string): Promise<string[]> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const found: string[] = [];
  try {
    await redis.connect();
    let cursor = '0';
    for (let i = 0; i < 10_000; i++) {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `*${queue}*`, 'COUNT', 1000);
      found.push(...keys);
      cursor = next;
      if (cursor === '0') break;
    }
  } finally {
    redis.disconnect();
  }
  return found;
}

/** Every RabbitMQ queue or exchange whose name contains `queue`. */
export async function rabbitmqNamesOf(
  queue: string,
  what: 'queues' | 'exchanges' = 'queues',
): Promise<string[]> {
  const { stdout } = await run('rabbitmqctl', ['-q', `list_${what}`, 'name', '--no-table-headers'], {
    timeout: 30_000,
  });
  return stdout.split('\n').filter((name) => name.includes(queue));
}

/** Redis, with every key of the run's queues removed afterwards. */
export function redisBackend(prefix?: string): Promise<Backend> {
  return Promise.resolve(
    // A short lease: a SIGKILLed worker's tasks come back after 2 s instead of the default 30 s.
    brokerBackend(
      'redis',
      `${REDIS_URL}?leaseTtlMs=2000`,
      async (queue) => {
        const keys = await redisKeysOf(queue);
        if (keys.length === 0) return;
        const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
        try {
          await redis.unlink(...keys);
        } finally {
          redis.disconnect();
        }
      },
      prefix,
    ),
  );
}

/** RabbitMQ, with every queue and exchange the run declared deleted afterwards. */
export function rabbitmqBackend(prefix?: string): Promise<Backend> {
  return Promise.resolve(
    brokerBackend(
      'rabbitmq',
      AMQP_URL,
      async (queue) => {
        const [queues, exchanges] = await Promise.all([
          rabbitmqNamesOf(queue, 'queues'),
          rabbitmqNamesOf(queue, 'exchanges'),
        ]);
        const connection = await amqp.connect(AMQP_URL);
        try {
          const channel = await connection.createChannel();
          for (const name of queues) await channel.deleteQueue(name);
          for (const name of exchanges) await channel.deleteExchange(name);
          await channel.close();
        } finally {
          await connection.close();
        }
      },
      prefix,
    ),
  );
}

export const NATS_URL = process.env.TASKWIRE_NATS_URL ?? 'nats://127.0.0.1:4222';

/** NATS JetStream, with every stream of the run's queues deleted afterwards. */
export function natsBackend(prefix?: string): Promise<Backend> {
  return Promise.resolve(
    // A short ack wait: a SIGKILLed worker's tasks come back after 2 s instead of the default 30 s.
    brokerBackend(
      'nats',
      `${NATS_URL}?ackWaitMs=2000`,
      async (queue) => {
        const nc = await connectNats({ servers: new URL(NATS_URL).host });
        try {
          const jsm = await nc.jetstreamManager();
          const doomed: string[] = [];
          for await (const stream of jsm.streams.names()) {
            if (stream.includes(encodeName(queue))) doomed.push(stream);
          }
          for (const stream of doomed) await jsm.streams.delete(stream);
        } finally {
          await nc.close();
        }
      },
      prefix,
    ),
  );
}
