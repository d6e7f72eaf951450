import { proxiedConnections, runConformanceSuite } from '@taskwire/conformance';
import { type PrivateNats, startPrivateNats } from '@taskwire/test-brokers';
import type { NatsConnection as NatsClient } from 'nats';
import { afterAll, beforeAll } from 'vitest';
import { createNatsTransport, queueNames } from '../src/index.js';
import { adminClient, deleteStreams, NATS_URL, uniquePrefix } from './nats.js';

const transport = createNatsTransport();
const prefix = uniquePrefix('conformance');
let admin: NatsClient;
// The persistence case restarts a server of its own, with a store directory of its own.
let restartable: PrivateNats;

// Fault cases: a short ack wait (a dropped connection's deliveries come back after it), each connection through a
// proxy of its own.
const FAULT_OPTIONS = { prefix, ackWaitMs: 1500 };
const shared = new URL(NATS_URL);
const proxied = proxiedConnections(
  { host: shared.hostname, port: Number(shared.port || 4222) },
  (port, options) => transport.connect({ url: `nats://127.0.0.1:${port}`, ...FAULT_OPTIONS, ...options }),
);

beforeAll(async () => {
  admin = await adminClient();
  restartable = await startPrivateNats();
});
afterAll(async () => {
  await proxied.close();
  await restartable?.stop();
  await deleteStreams(admin, prefix);
  await admin.close();
});

runConformanceSuite({
  name: 'nats',
  connect: (o) => transport.connect({ url: NATS_URL, prefix, ...o }),
  capabilities: transport.capabilities,
  cleanup: () => deleteStreams(admin, prefix),
  // A message with no taskwire headers, published behind the transport's back.
  rawPut: async (queue, bytes) => {
    await admin.jetstream().publish(queueNames(prefix, queue).subject, bytes);
  },
  faults: {
    connect: proxied.connect,
    breakConnection: proxied.breakConnection,
    reconnects: true,
    // The ack wait, plus a pull's reissue after the reconnect and the return to the back.
    recoveryMs: 3500,
    restartBackend: () => restartable.restart(),
    connectRestartable: (options) =>
      transport.connect({ url: restartable.url, ...FAULT_OPTIONS, ...options }),
  },
});
