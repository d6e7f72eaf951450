import { ConfigError, type QueueOptions, type QueueOrder } from '@taskwire/core';
import { type ResolvedQueueOptions, resolveQueueOptions } from '@taskwire/core/transport';
import { type RedisClient, scripts } from './scripts.js';

/** A queue's options as stored in its meta hash (every field present). */
export type StoredQueueOptions = ResolvedQueueOptions;

function normalise(options: QueueOptions): [string, string, string, string] {
  const { order, maxsize, visibilityTimeoutMs, deadLetter } = resolveQueueOptions(options);
  return [order, String(maxsize), String(Math.ceil(visibilityTimeoutMs)), deadLetter ?? ''];
}

const FIELDS = ['order', 'maxsize', 'visibilityTimeoutMs', 'deadLetter'] as const;
const GIVEN: (keyof QueueOptions)[] = ['order', 'maxsize', 'visibilityTimeoutMs', 'deadLetter'];

/**
 * Declare queue `name` in its meta hash, or open it: options the caller gave must match the stored
 * ones (else `ConfigError` naming the queue and option); omitted ones are taken from the store.
 */
export async function declareQueue(
  client: RedisClient,
  metaKey: string,
  name: string,
  options: QueueOptions = {},
): Promise<StoredQueueOptions> {
  const [order, maxsize, vt, dl] = normalise(options);
  const given = GIVEN.map((key) => (options[key] === undefined ? '0' : '1')).join('');
  const args = { order, maxsize, vt, dl, given };
  const reply = ((await scripts.declare.run(client, { meta: metaKey }, args)) as Buffer[]).map((part) =>
    part.toString(),
  );
  if (reply[0] === 'conflict') {
    const field = FIELDS[['order', 'maxsize', 'vt', 'dl'].indexOf(reply[1]!)] ?? reply[1];
    throw new ConfigError(
      `queue "${name}" already exists with ${field}=${reply[2] || 'none'}; requested ${field}=${reply[3] || 'none'}`,
    );
  }
  return {
    order: reply[1] as QueueOrder,
    maxsize: Number(reply[2]),
    visibilityTimeoutMs: Number(reply[3]),
    deadLetter: reply[4] ? reply[4] : undefined,
  };
}
