import { runConformanceSuite } from '@taskwire/conformance';
import { afterAll } from 'vitest';
import { createTcpTransport, serve } from '../src/index.js';

const authkey = 'conformance-secret';
const server = await serve({ host: '127.0.0.1', port: 0, authkey });
afterAll(() => server.close());
const transport = createTcpTransport();

runConformanceSuite({
  name: 'tcp',
  connect: (options) => transport.connect({ url: server.url, authkey, ...options }),
  capabilities: transport.capabilities,
});
