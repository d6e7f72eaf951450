import { BackendError, ErrorCodes } from '@taskwire/core';
import { describe, expect, it } from 'vitest';
import { queueKeys } from '../src/index.js';
import { shortLeaseRun } from './redis.js';

const run = shortLeaseRun('backend-errors', 30_000);

describe('redis: an error of Redis itself reaches the caller as a BackendError', () => {
  it('keeps ioredis’s error as cause, with a stable code and retryable false for a wrong key type', async () => {
    const connection = await run.connect('backend-errors');
    const queue = await connection.queue<number>('jobs');
    await queue.put(1);
    // Someone else's value where the queue's ready list should be: every script on it fails with WRONGTYPE.
    const { ready } = queueKeys(run.prefix, 'jobs');
    await run.admin().del(ready);
    await run.admin().set(ready, 'not a list');

    const error = await queue.size().then(
      () => undefined,
      (rejection: unknown) => rejection,
    );
    expect(BackendError.isInstance(error)).toBe(true);
    const backend = error as BackendError;
    expect(backend.code).toBe(ErrorCodes.BACKEND);
    expect(backend.retryable).toBe(false);
    expect(backend.message).toMatch(/^redis: queue "jobs" failed: .*WRONGTYPE/);
    expect(backend.cause).toBeInstanceOf(Error);
    expect((backend.cause as Error).message).toMatch(/WRONGTYPE/);
    await run.admin().del(ready);
  });
});
