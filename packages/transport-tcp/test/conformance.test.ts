import { proxiedConnections, runConformanceSuite } from '@taskwire/conformance';
import { storePayload } from '@taskwire/core/engine';
import { afterAll } from 'vitest';
import { createTcpTransport, serve, type TcpServer } from '../src/index.js';

const authkey = 'conformance-secret';
const server = await serve({ host: '127.0.0.1', port: 0, authkey });
// A second manager of the suite's own, restarted by the persistence case (queues live in its memory).
let restartable: TcpServer = await serve({ host: '127.0.0.1', port: 0, authkey });
const transport = createTcpTransport();
// Fault cases: each connection through a proxy of its own; reconnect delays kept short.
const proxied = proxiedConnections(server.address, (port, options) =>
  transport.connect({ url: `tcp://127.0.0.1:${port}`, authkey, reconnectMaxDelayMs: 200, ...options }),
);
afterAll(async () => {
  await proxied.close();
  await restartable.close();
  await server.close();
});

runConformanceSuite({
  name: 'tcp',
  connect: (options) => transport.connect({ url: server.url, authkey, ...options }),
  capabilities: transport.capabilities,
  rawPut: async (queue, bytes) => {
    server.engine.queue(queue).tryPut(storePayload(bytes));
  },
  faults: {
    connect: proxied.connect,
    breakConnection: proxied.breakConnection,
    reconnects: true,
    // The manager requeues a dropped peer's deliveries at once; the client is back within 200 ms.
    recoveryMs: 2000,
    restartBackend: async () => {
      const { port } = restartable.address;
      await restartable.close();
      restartable = await serve({ host: '127.0.0.1', port, authkey });
    },
    connectRestartable: (options) =>
      transport.connect({ url: restartable.url, authkey, reconnectMaxDelayMs: 200, ...options }),
  },
});
