import { deadLetterCases, faultCases, proxiedConnections, runConformanceSuite } from '@taskwire/conformance';
import { createMemoryTransport } from '@taskwire/core';
import { memoryEngine, storePayload } from '@taskwire/core/engine';
import { createTcpTransport, serve } from '@taskwire/transport-tcp';
import { afterAll, describe } from 'vitest';
import createNamespacedTransport, { namespacedName } from '../src/index.js';

const NAMESPACE = 'conformance';
const ENGINE = 'namespaced-conformance';

// The decorator must keep every promise of the transport it wraps, so it runs the whole suite
// over the reference memory:// transport.
const transport = createNamespacedTransport({ namespace: NAMESPACE, inner: createMemoryTransport() });

runConformanceSuite({
  name: 'namespaced(memory)',
  connect: (options) => transport.connect({ url: `memory://${ENGINE}`, ...options }),
  capabilities: transport.capabilities,
  // The backend holds `<namespace>:<name>`.
  rawPut: async (queue, bytes) => {
    memoryEngine(ENGINE).queue(namespacedName(NAMESPACE, queue)).tryPut(storePayload(bytes));
  },
  faults: {
    // In process there is no link to cut: a break ends the inner connection, for good.
    breakConnection: (connection) => connection.close(),
    reconnects: false,
    recoveryMs: 1000,
  },
});

// Faults again over a backend that reconnects (a hosted TCP manager, each connection through a
// proxy of its own): the decorator must not get in the way of the inner transport's recovery.
const authkey = 'namespaced-conformance';
const server = await serve({ host: '127.0.0.1', port: 0, authkey });
const overTcp = createNamespacedTransport({ namespace: NAMESPACE, inner: createTcpTransport() });
const proxied = proxiedConnections(server.address, (port, options) =>
  overTcp.connect({ url: `tcp://127.0.0.1:${port}`, authkey, reconnectMaxDelayMs: 200, ...options }),
);
afterAll(async () => {
  await proxied.close();
  await server.close();
});

describe('namespaced(tcp) conformance', () => {
  const options = {
    name: 'namespaced(tcp)',
    connect: proxied.connect,
    capabilities: overTcp.capabilities,
    rawPut: async (queue: string, bytes: Uint8Array) => {
      server.engine.queue(namespacedName(NAMESPACE, queue)).tryPut(storePayload(bytes));
    },
    faults: { breakConnection: proxied.breakConnection, reconnects: true, recoveryMs: 2000 },
  };
  deadLetterCases(options);
  faultCases(options);
});
