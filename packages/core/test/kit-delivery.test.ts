import { describe, expect, it } from 'vitest';
import { createCodec } from '../src/index.js';
import {
  BaseDelivery,
  decodeOrDeadLetter,
  runHandler,
  UNDECODABLE,
  undecodableTarget,
} from '../src/subpath/transport.js';
import type { NackOptions } from '../src/types.js';

/** A delivery that records what reaches its backend. */
class RecordingDelivery extends BaseDelivery<string> {
  readonly id = 'id-1';
  readonly attempt = 1;
  readonly body = 'body';
  readonly calls: string[] = [];

  protected override onSettled(): void {
    this.calls.push('settled');
  }

  protected settleAck(): Promise<void> {
    this.calls.push('ack');
    return Promise.resolve();
  }

  protected settleNack(options: NackOptions): Promise<void> {
    this.calls.push(`nack requeue=${String(options.requeue)}`);
    return Promise.resolve();
  }

  /** What a transport does when it settles a delivery itself (an expired visibility timeout). */
  expire(): boolean {
    return this.claim();
  }
}

describe('BaseDelivery', () => {
  it('reaches the backend once: a second ack, or a nack after the ack, does nothing', async () => {
    const delivery = new RecordingDelivery();
    await delivery.ack();
    await delivery.ack();
    await delivery.nack({ requeue: false });
    expect(delivery.settled).toBe(true);
    expect(delivery.calls).toEqual(['settled', 'ack']);
  });

  it('a nack settles it once too', async () => {
    const delivery = new RecordingDelivery();
    await delivery.nack({ requeue: false });
    await delivery.nack({ requeue: true });
    await delivery.ack();
    expect(delivery.calls).toEqual(['settled', 'nack requeue=false']);
  });

  it('a nack with a bad delayMs rejects with RangeError and settles nothing', async () => {
    const delivery = new RecordingDelivery();
    await expect(delivery.nack({ delayMs: -5 })).rejects.toThrow(RangeError);
    expect(delivery.settled).toBe(false);
    await delivery.ack();
    expect(delivery.calls).toEqual(['settled', 'ack']);
  });

  it('once the transport settled it (claim), the user’s ack is a no-op', async () => {
    const delivery = new RecordingDelivery();
    expect(delivery.expire()).toBe(true);
    expect(delivery.expire()).toBe(false);
    await delivery.ack();
    expect(delivery.calls).toEqual(['settled']);
  });
});

describe('runHandler', () => {
  it('nacks with requeue when the handler throws before settling', async () => {
    const delivery = new RecordingDelivery();
    await runHandler(() => {
      throw new Error('boom');
    }, delivery);
    expect(delivery.calls).toEqual(['settled', 'nack requeue=true']);
  });

  it('leaves a delivery the handler settled before throwing alone', async () => {
    const delivery = new RecordingDelivery();
    await runHandler(async (d) => {
      await d.ack();
      throw new Error('after the ack');
    }, delivery);
    expect(delivery.calls).toEqual(['settled', 'ack']);
  });
});

describe('decodeOrDeadLetter', () => {
  const codec = createCodec();

  it('returns the decoded value and dead-letters nothing', () => {
    const moved: unknown[] = [];
    const body = decodeOrDeadLetter(codec, codec.encode({ n: 1 }), (ref) => moved.push(ref), 'ref');
    expect(body).toEqual({ n: 1 });
    expect(moved).toEqual([]);
  });

  it('hands an undecodable payload to deadLetter with its reference and context, and returns UNDECODABLE', () => {
    const moved: unknown[] = [];
    const body = decodeOrDeadLetter(
      codec,
      Uint8Array.of(0xc1),
      (ref: string, context: number) => moved.push([ref, context]),
      'tag-7',
      3,
    );
    expect(body).toBe(UNDECODABLE);
    expect(moved).toEqual([['tag-7', 3]]);
  });

  it('swallows a dead-letter that fails, synchronously or not (the backend redelivers the item)', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const rejecting = () => Promise.reject(new Error('backend down'));
      const throwing = () => {
        throw new Error('backend down');
      };
      expect(decodeOrDeadLetter(codec, Uint8Array.of(0xc1), rejecting, 1)).toBe(UNDECODABLE);
      expect(decodeOrDeadLetter(codec, Uint8Array.of(0xc1), throwing, 1)).toBe(UNDECODABLE);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('undecodableTarget is the deadLetter queue, else <name>.dead', () => {
    expect(undecodableTarget('jobs', 'failed')).toBe('failed');
    expect(undecodableTarget('jobs', undefined)).toBe('jobs.dead');
  });
});
