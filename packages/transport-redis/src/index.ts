import { createRedisTransport } from './transport.js';

export { RedisConnection, type RedisConnectOptions } from './connection.js';
export { type QueueKeys, queueKeys } from './keys.js';
export { createRedisTransport, REDIS_CAPABILITIES, RedisTransport } from './transport.js';
export { DEFAULT_REDIS_URL, parseRedisUrl } from './url.js';

/** The factory core's registry calls for `redis://` and `rediss://` URLs. */
export default createRedisTransport;
