import { createRabbitMQTransport } from './transport.js';

export type { QueueType } from './arguments.js';
export type { QueueKindOptions } from './queue-kind.js';
export type { ReconnectOptions } from './reconnecting-connection.js';
export {
  createRabbitMQTransport,
  RABBITMQ_CAPABILITIES,
  RABBITMQ_MANAGED_CAPABILITIES,
  RABBITMQ_QUORUM_CAPABILITIES,
  RABBITMQ_QUORUM_MANAGED_CAPABILITIES,
  type RabbitMQConnectOptions,
  RabbitMQTransport,
} from './transport.js';
export type { EndpointOptions } from './url.js';

/** The factory, as core's registry expects from `import('@taskwire/transport-rabbitmq')`. */
export default createRabbitMQTransport;
