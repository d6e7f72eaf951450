import { runConformanceSuite } from '@taskwire/conformance';
import { createMemoryTransport } from '@taskwire/core';
import createNamespacedTransport from '../src/index.js';

// The decorator must keep every promise of the transport it wraps, so it runs the whole suite
// over the reference memory:// transport.
const transport = createNamespacedTransport({ namespace: 'conformance', inner: createMemoryTransport() });

runConformanceSuite({
  name: 'namespaced(memory)',
  connect: (options) => transport.connect({ url: 'memory://namespaced-conformance', ...options }),
  capabilities: transport.capabilities,
});
