import { defineConfig } from 'vitest/config';

// One root config runs every package's tests. Broker-backed suites share one Redis and one
// RabbitMQ, so files run one at a time; each test still uses its own queue/key prefix.
export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: ['default'],
  },
});
