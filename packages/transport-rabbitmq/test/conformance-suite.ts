import { LONG_DELAY_MS, proxiedConnections, runConformanceSuite } from '@taskwire/conformance';
import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import { afterAll, beforeAll } from 'vitest';
import { delayBucket } from '../src/arguments.js';
import { createRabbitMQTransport, type RabbitMQConnectOptions } from '../src/index.js';
import { AMQP_URL, assertBroker, deleteQueues, type PrivateBroker, startPrivateBroker } from './broker.js';

const DELAY_MS = 400;
// Fault cases: short reconnect delays, each connection through a proxy of its own.
const RECONNECT = { reconnect: { initialDelayMs: 50, maxDelayMs: 500 } };

/**
 * The conformance kit against the shared broker (its fault cases through proxies and a private node), with
 * `defaults` for the transport: the same cases for classic and quorum queues. The restart case kills the private
 * node, or with `gracefulRestart` stops and starts its application (quorum queues: see startGracefulBroker).
 */
export function runRabbitConformance(
  name: string,
  defaults: RabbitMQConnectOptions = {},
  { gracefulRestart = false } = {},
): void {
  const transport = createRabbitMQTransport(defaults);
  const shared = new URL(AMQP_URL);
  const proxied = proxiedConnections(
    { host: shared.hostname, port: Number(shared.port || 5672) },
    (port, options) => {
      const url = new URL(AMQP_URL);
      url.hostname = '127.0.0.1';
      url.port = String(port);
      return transport.connect({ url: url.toString(), ...RECONNECT, ...options });
    },
  );
  // A raw amqplib channel plants messages the transport did not write.
  let raw: ChannelModel;
  let rawChannel: ConfirmChannel;
  // The persistence case restarts a node of its own.
  let restartable: PrivateBroker;

  beforeAll(async () => {
    await assertBroker();
    raw = await amqp.connect(AMQP_URL);
    rawChannel = await raw.createConfirmChannel();
    restartable = gracefulRestart ? await startGracefulBroker() : await startPrivateBroker();
  }, 90_000);
  afterAll(async () => {
    await proxied.close();
    await raw?.close();
    await restartable?.stop();
  });

  runConformanceSuite({
    name,
    connect: (options) => transport.connect({ url: AMQP_URL, ...options }),
    capabilities: transport.capabilities,
    timing: { delayMs: DELAY_MS },
    cleanup: (names) => deleteQueues(names, [DELAY_MS, delayBucket(LONG_DELAY_MS)]),
    rawPut: async (queue, bytes) => {
      rawChannel.sendToQueue(queue, Buffer.from(bytes), { persistent: true });
      await rawChannel.waitForConfirms();
    },
    faults: {
      connect: proxied.connect,
      breakConnection: proxied.breakConnection,
      reconnects: true,
      // The broker requeues a dropped connection's deliveries at once and the link is back within 500 ms; a node
      // restarted under a loaded CI machine takes seconds more to recover its queues (a restart case once waited
      // past 4 s there), so the bound leaves room for that.
      recoveryMs: 6000,
      restartBackend: () => restartable.restart(),
      connectRestartable: (options) => transport.connect({ url: restartable.url, ...RECONNECT, ...options }),
    },
  });
}

/**
 * A private broker restarted gracefully (`stop_app`, `start_app`) instead of killed: on RabbitMQ 3.10 a single-node
 * quorum queue whose node was SIGKILLed did not elect its leader again (docs/decisions.md), so the conformance kit's
 * restart case for quorum queues uses this; crashes are covered on three nodes (cluster.test.ts).
 */
async function startGracefulBroker(): Promise<PrivateBroker> {
  const broker = await startPrivateBroker();
  return {
    ...broker,
    restart: async () => {
      await broker.stopApp();
      await broker.startApp();
    },
  };
}
