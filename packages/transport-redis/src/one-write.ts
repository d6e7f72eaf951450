import type { RedisClient } from './scripts.js';

/**
 * Run `send`, whose commands ioredis writes to `client`'s socket at once, with the socket corked:
 * they leave together, in one write (one syscall, one read on the server), when it is uncorked.
 * A client still connecting queues them instead; a cluster client is left as it is.
 */
export function inOneWrite<R>(client: RedisClient, send: () => R): R {
  const stream = 'stream' in client && client.status === 'ready' ? client.stream : undefined;
  stream?.cork();
  try {
    return send();
  } finally {
    stream?.uncork();
  }
}
