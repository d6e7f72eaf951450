import { createMemoryTransport } from '@taskwire/core';
import { runConformanceSuite } from '../src/index.js';

// The suite checks itself against the reference transport first.
const transport = createMemoryTransport();

runConformanceSuite({
  name: 'memory',
  connect: (options) => transport.connect({ url: 'memory://conformance', ...options }),
  capabilities: transport.capabilities,
});
