import { describe, expect, it } from 'vitest';
import {
  BackendError,
  ConfigError,
  ConnectionClosedError,
  ErrorCodes,
  QueueEmptyError,
  QueueFullError,
  TaskwireError,
  UnsupportedError,
} from '../src/index.js';
import { backendCodeOf, backoffDelay, isRetryable, wrapBackendError } from '../src/subpath/transport.js';

describe('backoffDelay', () => {
  it('doubles from baseMs and stays between half and all of each step', () => {
    const options = { baseMs: 100, maxMs: 5000 };
    expect(backoffDelay(1, options, () => 0)).toBe(50);
    expect(backoffDelay(1, options, () => 1)).toBe(100);
    expect(backoffDelay(3, options, () => 0)).toBe(200);
    expect(backoffDelay(3, options, () => 1)).toBe(400);
  });

  it('never exceeds maxMs, however many attempts failed', () => {
    expect(backoffDelay(50, { baseMs: 100, maxMs: 2000 }, () => 1)).toBe(2000);
    expect(backoffDelay(50, { baseMs: 100, maxMs: 2000 }, () => 0)).toBe(1000);
  });

  it('with real randomness every delay lies within its jitter bounds', () => {
    for (let attempt = 1; attempt <= 12; attempt++) {
      const ceiling = Math.min(5000, 100 * 2 ** (attempt - 1));
      for (let sample = 0; sample < 50; sample++) {
        const delay = backoffDelay(attempt, { baseMs: 100, maxMs: 5000 });
        expect(delay).toBeGreaterThanOrEqual(Math.floor(ceiling / 2));
        expect(delay).toBeLessThanOrEqual(ceiling);
      }
    }
  });
});

describe('retryable', () => {
  it('is true for a full or empty queue and a closed connection, false for bad input and refusals', () => {
    expect(new QueueFullError('full').retryable).toBe(true);
    expect(new QueueEmptyError('empty').retryable).toBe(true);
    expect(new ConnectionClosedError('closed').retryable).toBe(true);
    expect(new ConfigError('bad').retryable).toBe(false);
    expect(new UnsupportedError('no').retryable).toBe(false);
  });

  it('can be set per error, and adds no enumerable field', () => {
    const error = new ConnectionClosedError('gave up reconnecting', { retryable: false });
    expect(error.retryable).toBe(false);
    expect(Object.keys(error)).toEqual(Object.keys(new ConnectionClosedError('x')));
    expect(Object.keys(error)).not.toContain('retryable');
  });
});

describe('wrapBackendError', () => {
  it('wraps a dropped socket as a retryable BackendError keeping the original as cause', () => {
    const raw = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    const wrapped = wrapBackendError(raw, 'redis: put to "jobs"');
    expect(BackendError.isInstance(wrapped)).toBe(true);
    expect(TaskwireError.isInstance(wrapped)).toBe(true);
    const error = wrapped as BackendError;
    expect(error.code).toBe(ErrorCodes.BACKEND);
    expect(error.code).toBe('TASKWIRE_BACKEND');
    expect(error.cause).toBe(raw);
    expect(error.backendCode).toBe('ECONNRESET');
    expect(error.retryable).toBe(true);
    expect(error.message).toBe('redis: put to "jobs" failed: read ECONNRESET');
  });

  it('reads a Redis reply’s first word as its code: WRONGTYPE is final, LOADING is not', () => {
    const wrongType = wrapBackendError(
      new Error('WRONGTYPE Operation against a key'),
      'redis',
    ) as BackendError;
    expect(wrongType.backendCode).toBe('WRONGTYPE');
    expect(wrongType.retryable).toBe(false);
    const loading = wrapBackendError(
      new Error('LOADING Redis is loading the dataset'),
      'redis',
    ) as BackendError;
    expect(loading.retryable).toBe(true);
  });

  it('reads an AMQP reply code: 406 is final, 541 (internal error) is not', () => {
    const precondition = Object.assign(new Error('PRECONDITION_FAILED'), { code: 406 });
    expect((wrapBackendError(precondition, 'rabbitmq') as BackendError).retryable).toBe(false);
    const internal = Object.assign(new Error('INTERNAL_ERROR'), { code: 541 });
    expect((wrapBackendError(internal, 'rabbitmq') as BackendError).retryable).toBe(true);
  });

  it('lets the caller decide retryable', () => {
    expect((wrapBackendError(new Error('odd'), 'x', { retryable: true }) as BackendError).retryable).toBe(
      true,
    );
  });

  it('passes taskwire errors, TypeError and RangeError through unchanged', () => {
    const config = new ConfigError('conflict');
    const type = new TypeError('bad priority');
    const range = new RangeError('bad delay');
    expect(wrapBackendError(config, 'x')).toBe(config);
    expect(wrapBackendError(type, 'x')).toBe(type);
    expect(wrapBackendError(range, 'x')).toBe(range);
  });

  it('wraps a thrown non-error too', () => {
    const wrapped = wrapBackendError('plain string', 'x') as BackendError;
    expect(wrapped.message).toBe('x failed: plain string');
    expect(wrapped.cause).toBe('plain string');
    expect(wrapped.retryable).toBe(false);
  });

  it('backendCodeOf and isRetryable read raw errors and taskwire errors alike', () => {
    expect(backendCodeOf({ code: 320 })).toBe(320);
    expect(backendCodeOf(undefined)).toBeUndefined();
    expect(isRetryable(new QueueFullError('full'))).toBe(true);
    expect(isRetryable(new Error('no code'))).toBe(false);
  });
});
