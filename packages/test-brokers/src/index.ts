export { freePort } from './free-port.js';
export { type PrivateBroker, startPrivateBroker } from './rabbitmq.js';
export { type PrivateRedis, startPrivateRedis } from './redis.js';
