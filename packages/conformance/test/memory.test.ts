import { createMemoryTransport } from '@taskwire/core';
import { memoryEngine, storePayload } from '@taskwire/core/engine';
import { runConformanceSuite } from '../src/index.js';

// The suite checks itself against the reference transport first.
const transport = createMemoryTransport();
const engineName = 'conformance';

runConformanceSuite({
  name: 'memory',
  connect: (options) => transport.connect({ url: `memory://${engineName}`, ...options }),
  capabilities: transport.capabilities,
  // Straight into the engine the connections share, as a hosting process could.
  rawPut: async (queue, bytes) => {
    memoryEngine(engineName).queue(queue).tryPut(storePayload(bytes));
  },
  faults: {
    // In process there is no link to cut: the nearest thing to a drop is the connection ending
    // (its deliveries go back at once, counted), and an ended memory connection stays ended.
    breakConnection: (connection) => connection.close(),
    reconnects: false,
    recoveryMs: 1000,
  },
});
