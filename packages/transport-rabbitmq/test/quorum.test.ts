import { ConfigError, type Connection, QueueEmptyError, UnsupportedError } from '@taskwire/core';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createRabbitMQTransport,
  RABBITMQ_CAPABILITIES,
  RABBITMQ_QUORUM_CAPABILITIES,
} from '../src/index.js';
import { checkQuorumSupport } from '../src/queue-kind.js';
import { AMQP_URL, assertBroker, deleteQueues, queueNamer } from './broker.js';
import { type PrivateCluster, startPrivateCluster } from './cluster.js';

const classic = createRabbitMQTransport();
const quorum = createRabbitMQTransport({ queueType: 'quorum' });
const { name, used } = queueNamer();
const opened: Connection[] = [];

function withParameters(url: string, parameters: Record<string, string>): string {
  const parsed = new URL(url);
  for (const [key, value] of Object.entries(parameters)) parsed.searchParams.set(key, value);
  return parsed.toString();
}

async function open(connecting: Promise<Connection>): Promise<Connection> {
  const connection = await connecting;
  opened.push(connection);
  return connection;
}

beforeAll(assertBroker);
afterAll(async () => {
  await Promise.allSettled(opened.map((connection) => connection.close()));
  await deleteQueues(used);
});

describe('queueType and its capability profile', () => {
  it('a quorum transport advertises no priority and no maxsize; a classic one both', () => {
    expect(quorum.capabilities).toEqual(RABBITMQ_QUORUM_CAPABILITIES);
    expect(quorum.capabilities).toMatchObject({
      priority: false,
      maxsize: false,
      delayed: true,
      deadLetter: true,
    });
    expect(classic.capabilities).toEqual(RABBITMQ_CAPABILITIES);
    expect(createRabbitMQTransport({ url: `${AMQP_URL}?queueType=quorum` }).capabilities.priority).toBe(
      false,
    );
  });

  it('?queueType=quorum in the URL declares quorum queues, and the connection names a quorum profile', async () => {
    const queueName = name('url-quorum');
    const connection = await open(
      classic.connect({ url: withParameters(AMQP_URL, { queueType: 'quorum' }) }),
    );
    expect(connection.transport.capabilities.priority).toBe(false);
    const queue = await connection.queue<string>(queueName, { deadLetter: name('url-quorum-dead') });
    await queue.put('replicated');
    // The broker itself says it is a quorum queue: declaring it as classic is refused, naming the option.
    const asClassic = await open(classic.connect({ url: AMQP_URL }));
    const error = await asClassic.queue(queueName, { deadLetter: name('url-quorum-dead') }).catch((e) => e);
    expect(ConfigError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/different .*queueType.*broker argument x-/);
    expect((await queue.get({ timeoutMs: 5000 })).body).toBe('replicated');
  });

  it('order priority and maxsize are UnsupportedError on quorum queues, naming why', async () => {
    const connection = await open(quorum.connect({ url: AMQP_URL }));
    const priority = await connection.queue(name('q-priority'), { order: 'priority' }).catch((e) => e);
    expect(UnsupportedError.isInstance(priority)).toBe(true);
    expect((priority as Error).message).toMatch(/priority.*quorum/);
    const bounded = await connection.queue(name('q-bounded'), { maxsize: 10 }).catch((e) => e);
    expect(UnsupportedError.isInstance(bounded)).toBe(true);
    expect((bounded as Error).message).toMatch(/maxsize.*quorum.*soft limit/);
  });

  it('bad or contradictory queue options are ConfigErrors before anything is declared', async () => {
    const cases = [
      { url: AMQP_URL, queueType: 'mirrored' as 'quorum' },
      { url: AMQP_URL, queueType: 'quorum' as const, durable: false },
      { url: AMQP_URL, deliveryLimit: 5 },
      { url: withParameters(AMQP_URL, { queueType: 'quorum', deliveryLimit: '0' }) },
      { url: withParameters(AMQP_URL, { queueType: 'classic' }), queueType: 'quorum' as const },
    ];
    for (const options of cases) {
      const error = await open(classic.connect(options)).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(ConfigError.isInstance(error), JSON.stringify(options)).toBe(true);
    }
  });

  it('quorum queues need RabbitMQ 3.10 or later: an older broker is refused by version', () => {
    expect(() => checkQuorumSupport({ type: 'quorum', deliveryLimit: 20 }, '3.9.29')).toThrow(
      /3\.10.*3\.9\.29/,
    );
    for (const version of ['3.10.0', '3.13.7', '4.1.0']) {
      expect(() => checkQuorumSupport({ type: 'quorum', deliveryLimit: 20 }, version)).not.toThrow();
    }
    expect(() => checkQuorumSupport({ type: 'classic', deliveryLimit: 0 }, '3.8.0')).not.toThrow();
  });
});

describe('x-delivery-limit: the broker poison guard', () => {
  it('the limit is declared explicitly (20 unless given): another limit on the same queue is a ConfigError', async () => {
    const queueName = name('limit-default');
    await (await open(quorum.connect({ url: AMQP_URL }))).queue(queueName, { visibilityTimeoutMs: 0 });
    const same = await open(quorum.connect({ url: AMQP_URL, deliveryLimit: 20 }));
    await same.queue(queueName, { visibilityTimeoutMs: 0 });
    const other = await open(quorum.connect({ url: AMQP_URL, deliveryLimit: 21 }));
    const error = await other.queue(queueName, { visibilityTimeoutMs: 0 }).catch((e) => e);
    expect(ConfigError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/deliveryLimit.*x-delivery-limit/);
  });

  it('a message returned unsettled more than deliveryLimit times is dead-lettered by the broker, not redelivered', async () => {
    const queueName = name('poison');
    const deadName = name('poison-dead');
    const url = withParameters(AMQP_URL, { queueType: 'quorum', deliveryLimit: '2' });
    const connection = await open(classic.connect({ url }));
    const queue = await connection.queue<string>(queueName, { deadLetter: deadName });
    const dead = await connection.queue<string>(deadName);
    await queue.put('poison');
    // A consumer that dies holding the item (its channel closes unsettled) before anything can record an attempt.
    const raw = await amqp.connect(AMQP_URL);
    let returned = 0;
    try {
      for (let i = 0; i < 10; i++) {
        const channel = await raw.createChannel();
        const message = await channel.get(queueName, { noAck: false });
        await channel.close();
        if (message === false) break;
        returned++;
      }
    } finally {
      await raw.close();
    }
    expect(returned).toBe(3); // the third return is more than the limit of 2
    const delivery = await dead.get({ timeoutMs: 10_000 });
    expect(delivery.body).toBe('poison');
    await delivery.ack();
    await expect(queue.get({ timeoutMs: 500 })).rejects.toSatisfy(QueueEmptyError.isInstance);
  });
});

describe('at-least-once dead-lettering', () => {
  let node: PrivateCluster;

  beforeAll(async () => {
    // A private node whose dead-letter worker retries every second (RabbitMQ's default is minutes).
    node = await startPrivateCluster(
      1,
      '[{rabbit, [{dead_letter_worker_publisher_confirm_timeout, 1000}]}].',
    );
  }, 120_000);
  afterAll(async () => {
    await node?.stop();
  });

  it('an item dead-lettered while its dead-letter queue is gone is kept and delivered once the queue is back', async () => {
    const url = withParameters(node.nodes[0]!.url, { queueType: 'quorum' });
    const connection = await classic.connect({ url });
    try {
      const queue = await connection.queue<string>('jobs', { deadLetter: 'jobs.failed' });
      await (await connection.queue('jobs.failed')).delete();
      await queue.put('must-not-vanish');
      await (await queue.get({ timeoutMs: 5000 })).nack({ requeue: false });
      // At-most-once would have dropped it here: there was no queue to route it to.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const failed = await connection.queue<string>('jobs.failed');
      const delivery = await failed.get({ timeoutMs: 30_000 });
      expect(delivery.body).toBe('must-not-vanish');
      await delivery.ack();
    } finally {
      await connection.close();
    }
  }, 90_000);

  it('a delayed item that falls due while its node restarts is kept and served once the queue is back', async () => {
    // Dead-lettered by its delay queue straight into the quorum queue, it was dropped: the node expires it while
    // the quorum queue is still electing its leader. It now falls due into the due queue, and the mover moves it.
    const url = withParameters(node.nodes[0]!.url, { queueType: 'quorum' });
    const first = await classic.connect({ url });
    try {
      await (await first.queue<string>('restarts')).put('due-during-restart', { delayMs: 400 });
    } finally {
      await first.close();
    }
    await node.ctl(node.nodes[0]!, 'stop_app');
    await node.ctl(node.nodes[0]!, 'start_app');
    const second = await classic.connect({ url });
    try {
      const delivery = await (await second.queue<string>('restarts')).get({ timeoutMs: 20_000 });
      expect(delivery.body).toBe('due-during-restart');
      expect(delivery.attempt).toBe(1);
      await delivery.ack();
    } finally {
      await second.close();
    }
  }, 90_000);
});
