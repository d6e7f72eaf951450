import { LONG_DELAY_MS, runConformanceSuite } from '@taskwire/conformance';
import { beforeAll } from 'vitest';
import { delayBucket } from '../src/arguments.js';
import { createRabbitMQTransport } from '../src/index.js';
import { AMQP_URL, assertBroker, deleteQueues } from './broker.js';

const transport = createRabbitMQTransport();
const DELAY_MS = 400;

beforeAll(assertBroker);

runConformanceSuite({
  name: 'rabbitmq',
  connect: (options) => transport.connect({ url: AMQP_URL, ...options }),
  capabilities: transport.capabilities,
  timing: { delayMs: DELAY_MS },
  cleanup: (names) => deleteQueues(names, [DELAY_MS, delayBucket(LONG_DELAY_MS)]),
});
