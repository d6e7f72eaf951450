import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';

/** The test broker; CI points TASKWIRE_AMQP_URL elsewhere if needed. */
export const AMQP_URL = process.env.TASKWIRE_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** A queue-name prefix unique to this run. */
export function runPrefix(): string {
  return `tw-test-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** Queue names under one run prefix, remembered for deletion after the file's tests. */
export function queueNamer(): { name: (label: string) => string; used: string[] } {
  const prefix = runPrefix();
  const used: string[] = [];
  return {
    name: (label) => {
      const queue = `${prefix}.${label}`;
      used.push(queue);
      return queue;
    },
    used,
  };
}

/**
 * Fail loudly when the broker is down: in CI a missing broker must fail the suite, never skip it.
 */
export async function assertBroker(): Promise<void> {
  try {
    const connection = await amqp.connect(AMQP_URL, { timeout: 5000 });
    await connection.close();
  } catch (error) {
    throw new Error(
      `RabbitMQ is not reachable at ${AMQP_URL.replace(/:[^:@/]*@/, ':***@')} (${(error as Error).message}); start it with \`rabbitmq-server -detached && rabbitmqctl await_startup\``,
    );
  }
}

/** Delete queues (with their delay queues, dead-letter queues and options markers) and exchanges. */
export async function deleteQueues(names: string[], delays: number[] = []): Promise<void> {
  const connection = await amqp.connect(AMQP_URL);
  try {
    for (const name of names) {
      const queues = [
        name,
        `${name}.dead`,
        `${name}.due`,
        `taskwire.index.${name}`,
        ...delays.map((ms) => `${name}.delay.${ms}`),
      ];
      const exchanges = [`taskwire.options.${name}`, `taskwire.fanout.${name}`];
      for (const queue of queues) {
        const channel = await connection.createChannel();
        channel.on('error', () => undefined);
        await channel.deleteQueue(queue).catch(() => undefined);
        await channel.close().catch(() => undefined);
      }
      for (const exchange of exchanges) {
        const channel = await connection.createChannel();
        channel.on('error', () => undefined);
        await channel.deleteExchange(exchange).catch(() => undefined);
        await channel.close().catch(() => undefined);
      }
    }
  } finally {
    await connection.close();
  }
}

// Private RabbitMQ nodes (for restart tests) live in @taskwire/test-brokers, shared with `pnpm chaos`.
export { freePort, type PrivateBroker, RABBITMQ_SERVER, startPrivateBroker } from '@taskwire/test-brokers';
