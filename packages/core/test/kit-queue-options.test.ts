import { describe, expect, it } from 'vitest';
import {
  checkPriority,
  checkPutOptions,
  checkQueueName,
  checkRedeclaration,
  DEFAULT_PREFETCH,
  resolvePrefetch,
  resolveQueueOptions,
} from '../src/subpath/transport.js';

describe('resolveQueueOptions', () => {
  it('fills in every default', () => {
    expect(resolveQueueOptions()).toEqual({
      order: 'fifo',
      maxsize: 0,
      visibilityTimeoutMs: 0,
      deadLetter: undefined,
    });
    expect(
      resolveQueueOptions({ order: 'priority', maxsize: 5, visibilityTimeoutMs: 1.5, deadLetter: 'd' }),
    ).toEqual({ order: 'priority', maxsize: 5, visibilityTimeoutMs: 1.5, deadLetter: 'd' });
  });

  it('refuses a bad order, maxsize or deadLetter with TypeError and a bad duration with RangeError', () => {
    expect(() => resolveQueueOptions({ order: 'random' as never })).toThrow(TypeError);
    expect(() => resolveQueueOptions({ maxsize: -1 })).toThrow(TypeError);
    expect(() => resolveQueueOptions({ maxsize: 1.5 })).toThrow(TypeError);
    expect(() => resolveQueueOptions({ deadLetter: '' })).toThrow(TypeError);
    expect(() => resolveQueueOptions({ visibilityTimeoutMs: -1 })).toThrow(RangeError);
    expect(() => resolveQueueOptions({ visibilityTimeoutMs: Number.NaN })).toThrow(/visibilityTimeoutMs/);
  });
});

describe('checkQueueName', () => {
  it('accepts a non-empty string and returns it', () => {
    expect(checkQueueName('jobs')).toBe('jobs');
  });

  it('refuses an empty or non-string name', () => {
    expect(() => checkQueueName('')).toThrow(new TypeError('queue name must be a non-empty string'));
    expect(() => checkQueueName(7 as never)).toThrow(TypeError);
  });

  it('counts a limit in UTF-8 bytes, not characters', () => {
    expect(checkQueueName('é'.repeat(100), 200)).toHaveLength(100);
    expect(() => checkQueueName('é'.repeat(101), 200)).toThrow(
      'queue name must be a non-empty string of at most 200 bytes',
    );
  });
});

describe('checkPriority', () => {
  it('is 0 when left out and accepts 0–255', () => {
    expect(checkPriority(undefined)).toBe(0);
    expect(checkPriority(0)).toBe(0);
    expect(checkPriority(255)).toBe(255);
  });

  it('refuses anything else with TypeError', () => {
    for (const bad of [-1, 256, 1.5, Number.NaN]) expect(() => checkPriority(bad)).toThrow(TypeError);
  });
});

describe('resolvePrefetch', () => {
  it('defaults to DEFAULT_PREFETCH, or to the fallback given', () => {
    expect(resolvePrefetch(undefined)).toBe(DEFAULT_PREFETCH);
    expect(resolvePrefetch(undefined, 7)).toBe(7);
    expect(resolvePrefetch(3, 7)).toBe(3);
  });

  it('refuses anything but an integer ≥ 1', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      expect(() => resolvePrefetch(bad)).toThrow(new TypeError('prefetch must be an integer ≥ 1'));
    }
  });
});

describe('checkPutOptions', () => {
  it('accepts absent and valid durations', () => {
    expect(() => checkPutOptions({})).not.toThrow();
    expect(() => checkPutOptions({ delayMs: 0, timeoutMs: 10 })).not.toThrow();
  });

  it('refuses a bad delayMs or timeoutMs with a RangeError naming it', () => {
    expect(() => checkPutOptions({ delayMs: -1 })).toThrow(/delayMs/);
    expect(() => checkPutOptions({ timeoutMs: Number.POSITIVE_INFINITY })).toThrow(/timeoutMs/);
  });
});

describe('checkRedeclaration', () => {
  const existing = resolveQueueOptions({ order: 'lifo', maxsize: 5 });

  it('returns the existing options when every given option matches or is left out', () => {
    expect(checkRedeclaration('q', existing, undefined)).toBe(existing);
    expect(checkRedeclaration('q', existing, { maxsize: 5 })).toBe(existing);
  });

  it('refuses a differing option with a ConfigError naming the queue and the option', () => {
    expect(() => checkRedeclaration('q', existing, { maxsize: 6 })).toThrow(
      /queue "q" already exists with maxsize=5; requested maxsize=6/,
    );
    expect(() => checkRedeclaration('q', existing, { maxsize: 6 })).toThrow(
      expect.objectContaining({ code: 'TASKWIRE_CONFIG' }),
    );
  });
});
