import { runConformanceSuite } from '@taskwire/conformance';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { createRedisTransport } from '../src/index.js';
import { adminClient, deleteKeys, REDIS_URL, uniquePrefix } from './redis.js';

const transport = createRedisTransport();
const prefix = uniquePrefix('conformance');
let admin: Redis;

beforeAll(async () => {
  admin = await adminClient();
});
afterAll(async () => {
  await deleteKeys(admin, prefix);
  admin.disconnect();
});

runConformanceSuite({
  name: 'redis',
  connect: (o) => transport.connect({ url: REDIS_URL, prefix, ...o }),
  capabilities: transport.capabilities,
  cleanup: async () => {
    await deleteKeys(admin, prefix);
  },
});
