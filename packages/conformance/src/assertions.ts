import type { DistributedQueue } from '@taskwire/core';
import { expect } from 'vitest';
import { sleep } from './context.js';

/** Take `count` deliveries with `get`, acking each, and return their bodies. */
export async function drain<T>(queue: DistributedQueue<T>, count: number, timeoutMs = 5000): Promise<T[]> {
  const bodies: T[] = [];
  for (let i = 0; i < count; i++) {
    const delivery = await queue.get({ timeoutMs });
    bodies.push(delivery.body);
    await delivery.ack();
  }
  return bodies;
}

/** Expect `promise` to reject with an error that `ErrorClass.isInstance` recognises. */
export async function expectRejects(
  promise: Promise<unknown>,
  ErrorClass: { isInstance(error: unknown): boolean; name: string },
): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason as Error,
  );
  expect(error, `expected a ${ErrorClass.name}`).toBeInstanceOf(Error);
  expect(
    ErrorClass.isInstance(error),
    `expected ${ErrorClass.name}, got ${error?.name}: ${error?.message}`,
  ).toBe(true);
  return error!;
}

/** Wait until `condition()` holds (polled every 10 ms), failing after `ms` with `what`. */
export async function until(
  condition: () => boolean | Promise<boolean>,
  ms: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}
