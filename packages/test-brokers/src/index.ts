export { freePort } from './free-port.js';
export { type PrivateNats, startPrivateNats } from './nats.js';
export { type PrivatePostgres, startPrivatePostgres } from './postgres.js';
export { dropPostgresSchema } from './postgres-schema.js';
export { type PrivateBroker, RABBITMQ_SERVER, startPrivateBroker } from './rabbitmq.js';
export { type PrivateRedis, startPrivateRedis } from './redis.js';
