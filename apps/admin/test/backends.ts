import { randomBytes } from 'node:crypto';
import { type Connection, resolveTransport } from '@taskwire/core';
import { dropPostgresSchema, startPrivateBroker } from '@taskwire/test-brokers';
import { Redis } from 'ioredis';
import { connect as connectNats } from 'nats';

/** The shared brokers' transports the admin tests run on (TCP is hosted by the tests themselves). */
export const BROKER_TRANSPORTS = ['redis', 'rabbitmq', 'nats', 'postgres'] as const;
export type BrokerTransport = (typeof BROKER_TRANSPORTS)[number];

/**
 * A namespace of the run's own on a broker: `url` sees only the queues the run makes (a Redis key prefix, a NATS
 * stream prefix, a PostgreSQL schema; RabbitMQ has no namespace below a virtual host, so a private node with the
 * management plugin, which stats and listQueues need and the shared broker lacks).
 */
export interface AdminBackend {
  transport: BrokerTransport;
  url: string;
  /** `--transport … --url …` for taskwire, taskwire-master and taskwire-worker. */
  flags: string[];
  /** A connection of the test's own. */
  connect(): Promise<Connection>;
  /** Remove everything the run left in the namespace (or stop the private node). */
  drop(): Promise<void>;
}

const REDIS_URL = process.env.TASKWIRE_REDIS_URL ?? 'redis://127.0.0.1:6379';
const NATS_URL = process.env.TASKWIRE_NATS_URL ?? 'nats://127.0.0.1:4222';
const POSTGRES_URL = process.env.TASKWIRE_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Open a namespace of this run's own on `transport`. */
export async function openBackend(transport: BrokerTransport): Promise<AdminBackend> {
  const namespace = `tw_admin_${process.pid}_${randomBytes(3).toString('hex')}`;
  const { url, drop } = await namespaced(transport, namespace);
  return {
    transport,
    url,
    flags: ['--transport', transport, '--url', url],
    connect: async () =>
      (await resolveTransport(transport, { importModule: (specifier) => import(specifier) })).connect({
        url,
      }),
    drop,
  };
}

async function namespaced(
  transport: BrokerTransport,
  namespace: string,
): Promise<{ url: string; drop: () => Promise<void> }> {
  switch (transport) {
    case 'redis':
      return { url: `${REDIS_URL}?prefix=${namespace}`, drop: () => dropRedisKeys(namespace) };
    case 'nats':
      return { url: `${NATS_URL}?prefix=${namespace}`, drop: () => dropNatsStreams(namespace) };
    case 'postgres':
      return {
        url: `${POSTGRES_URL}?schema=${namespace}`,
        drop: () => dropPostgresSchema(POSTGRES_URL, namespace),
      };
    case 'rabbitmq': {
      const node = await startPrivateBroker({ management: true });
      return { url: `${node.url}?management=${node.managementUrl}`, drop: () => node.stop() };
    }
  }
}

async function dropRedisKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `*${prefix}*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

async function dropNatsStreams(prefix: string): Promise<void> {
  const nc = await connectNats({ servers: new URL(NATS_URL).host });
  try {
    const jsm = await nc.jetstreamManager();
    const doomed: string[] = [];
    for await (const stream of jsm.streams.names()) if (stream.includes(prefix)) doomed.push(stream);
    for (const stream of doomed) await jsm.streams.delete(stream);
  } finally {
    await nc.close();
  }
}
