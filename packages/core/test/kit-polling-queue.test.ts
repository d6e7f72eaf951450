import { afterEach, describe, expect, it } from 'vitest';
import { createCodec } from '../src/codec.js';
import { BackendError, ConnectionClosedError, QueueEmptyError, QueueFullError } from '../src/errors.js';
import {
  type ItemLease,
  PollingQueue,
  type PollingQueueSettings,
  resolveQueueOptions,
  sharedWakeSignal,
  type TakeReply,
  WakeSignal,
} from '../src/subpath/transport.js';
import type { Delivery, QueueOptions } from '../src/types.js';
import { type MemoryItem, MemoryPollingStore } from './fixtures/memory-polling-store.js';

const codec = createCodec();
/** Long enough that only a wake-up, never a poll, can explain an outcome within the test's bounds. */
const NEVER_POLL = 600_000;
const open = new Set<PollingQueue<unknown, MemoryItem>>();

afterEach(async () => {
  for (const queue of open) await queue.close();
  open.clear();
});

function pollingQueue(
  options: QueueOptions = {},
  settings: Partial<PollingQueueSettings> = {},
  store = new MemoryPollingStore(),
) {
  const queue = new PollingQueue<number, MemoryItem>('jobs', resolveQueueOptions(options), store, {
    backend: 'memory-test',
    codec,
    pollMs: 10,
    leaseMs: 10_000,
    ...settings,
  });
  open.add(queue as PollingQueue<unknown, MemoryItem>);
  return { queue, store };
}

/** Resolve once `condition` holds; fail after `ms` (generous: the machine is shared). */
async function until(condition: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** `promise`, or a rejection after `ms`: a wait that never ends fails the test instead of hanging it. */
function within<T>(promise: Promise<T>, ms = 10_000): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms)),
  ]);
}

describe('PollingQueue: get and put', () => {
  it('get takes what put stored, in order, attempt 1; an empty get rejects with QueueEmptyError after its timeout', async () => {
    const { queue } = pollingQueue();
    await queue.putMany([1, 2, 3]);
    const taken = [await queue.get(), await queue.get(), await queue.get()];
    expect(taken.map((d) => [d.body, d.attempt])).toEqual([
      [1, 1],
      [2, 1],
      [3, 1],
    ]);
    await expect(queue.get({ timeoutMs: 30 })).rejects.toBeInstanceOf(QueueEmptyError);
  });

  it('a waiting get is woken by a put on another handle sharing the wake signal, without a poll', async () => {
    const wake = new WakeSignal();
    const store = new MemoryPollingStore();
    const { queue: taker } = pollingQueue({}, { pollMs: NEVER_POLL, wake }, store);
    const { queue: putter } = pollingQueue({}, { pollMs: NEVER_POLL, wake }, store);
    const waiting = taker.get();
    await until(() => store.count('take') >= 1, 'the first take');
    await putter.put(7);
    expect((await within(waiting)).body).toBe(7);
  });

  it('a wake-up that lands while an empty take is in flight is not lost: the taker looks again at once', async () => {
    const wake = new WakeSignal();
    class RacingStore extends MemoryPollingStore {
      private raced = false;
      override async take(limit: number, lease: ItemLease): Promise<MemoryItem[]> {
        const items = this.takeRows(limit, lease);
        if (items.length === 0 && !this.raced) {
          this.raced = true;
          // Another process's put lands after this take read the queue, and its wake-up arrives before the reply.
          this.put([codec.encode(7)], { priority: 0, delayMs: 0, maxsize: 0 });
          wake.notify();
        }
        return items;
      }
      // As a backend would answer if asked before that put: nothing due.
      override nextReadyAt(): undefined {
        return undefined;
      }
    }
    const { queue } = pollingQueue({}, { pollMs: NEVER_POLL, wake }, new RacingStore());
    expect((await within(queue.get(), 5000)).body).toBe(7);
    const seen: number[] = [];
    const { queue: consumed } = pollingQueue({}, { pollMs: NEVER_POLL, wake }, new RacingStore());
    await consumed.consume((delivery) => {
      seen.push(delivery.body);
      void delivery.ack();
    });
    await until(() => seen.length === 1, 'the consumer to take the raced item', 5000);
    expect(seen).toEqual([7]);
  });

  it('an idle get sleeps only until the next delayed item is due, and never takes it before', async () => {
    const { queue } = pollingQueue({}, { pollMs: NEVER_POLL });
    const start = Date.now();
    await queue.put(5, { delayMs: 100 });
    const delivery = await within(queue.get());
    expect(delivery.body).toBe(5);
    expect(Date.now() - start).toBeGreaterThanOrEqual(100);
  });

  it('a store whose take says when the next item is due is not asked again: an idle get sleeps until then', async () => {
    class TakeReplyStore extends MemoryPollingStore {
      nextReadyAtCalls = 0;
      override take(limit: number, lease: ItemLease): TakeReply<MemoryItem> {
        const items = this.takeRows(limit, lease);
        return { items, nextReadyAt: super.nextReadyAt() };
      }
      override nextReadyAt(): number | undefined {
        this.nextReadyAtCalls++;
        return super.nextReadyAt();
      }
    }
    const store = new TakeReplyStore();
    const { queue } = pollingQueue({}, { pollMs: NEVER_POLL }, store);
    const start = Date.now();
    await queue.put(5, { delayMs: 100 });
    const delivery = await within(queue.get());
    expect([delivery.body, delivery.attempt]).toEqual([5, 1]);
    expect(Date.now() - start).toBeGreaterThanOrEqual(100);
    expect(store.nextReadyAtCalls).toBe(0);
  });

  it('priorities reach the store only on a priority queue', async () => {
    const { queue } = pollingQueue({ order: 'priority' });
    await queue.put(1, { priority: 1 });
    await queue.put(2, { priority: 9 });
    expect((await queue.get()).body).toBe(2);
    const { queue: fifo } = pollingQueue();
    await fifo.put(1, { priority: 1 });
    await fifo.put(2, { priority: 9 });
    expect((await fifo.get()).body).toBe(1);
  });

  it('a put on a full queue waits for room, and rejects with QueueFullError after timeoutMs', async () => {
    const { queue } = pollingQueue({ maxsize: 2 });
    await queue.putMany([1, 2]);
    await expect(queue.put(3, { timeoutMs: 0 })).rejects.toBeInstanceOf(QueueFullError);
    await expect(queue.put(3, { timeoutMs: 40 })).rejects.toBeInstanceOf(QueueFullError);
    // putMany stores what fits, and the rest as room appears.
    const putting = queue.putMany([3, 4]);
    await (await queue.get()).ack();
    await (await queue.get()).ack();
    await within(putting);
    expect(await queue.size()).toBe(2);
    expect([(await queue.get()).body, (await queue.get()).body]).toEqual([3, 4]);
  });

  it('waiting puts are stored first come, first served: a later put never overtakes a waiting one', async () => {
    const store = new MemoryPollingStore();
    const { queue } = pollingQueue({ maxsize: 1 }, { pollMs: 50 }, store);
    await queue.put(0);
    const first = queue.put(1);
    // Tried once, found the queue full, and tried again from the head of the line of waiting puts.
    await until(() => store.count('put') >= 3, 'the first put to wait for room');
    // Room appears behind the handle's back (another process), and a second put arrives at once.
    store.purge();
    const second = queue.put(2);
    await within(first);
    expect(store.rows.map((row) => codec.decode(row.payload))).toEqual([1]);
    store.purge();
    await within(second);
    expect(store.rows.map((row) => codec.decode(row.payload))).toEqual([2]);
  });
});

describe('PollingQueue: a large putMany', () => {
  it('is stored in slices of 1000, in order, and its first slice can be taken before the rest is sent', async () => {
    const store = new MemoryPollingStore();
    const sizes: number[] = [];
    let releaseSecond!: () => void;
    const secondHeld = new Promise<void>((resolve) => {
      releaseSecond = resolve;
    });
    const storePut = store.put.bind(store);
    // The backend is slow to answer the second slice: the first must already be takeable meanwhile.
    (store as unknown as { put: (...args: Parameters<typeof storePut>) => Promise<number> }).put = async (
      payloads,
      where,
    ) => {
      sizes.push(payloads.length);
      if (sizes.length === 2) await secondHeld;
      return storePut(payloads, where);
    };
    const { queue } = pollingQueue({}, {}, store);
    const { queue: reader } = pollingQueue({}, {}, store);
    const putting = queue.putMany(Array.from({ length: 2500 }, (_, i) => i));
    const first = await within(reader.get({ timeoutMs: 5000 }));
    expect(first.body).toBe(0);
    await first.ack();
    expect(sizes).toEqual([1000, 1000]);
    releaseSecond();
    await within(putting);
    expect(sizes).toEqual([1000, 1000, 500]);
    const rest: number[] = [];
    for (let i = 1; i < 2500; i++) {
      const delivery = await reader.get({ timeoutMs: 1000 });
      rest.push(delivery.body);
      await delivery.ack();
    }
    expect(rest).toEqual(Array.from({ length: 2499 }, (_, i) => i + 1));
  });
});

describe('PollingQueue: consume and settle', () => {
  it('consume never holds more than prefetch unsettled deliveries, and delivers every item once', async () => {
    const { queue } = pollingQueue();
    await queue.putMany(Array.from({ length: 50 }, (_, i) => i));
    const unsettled = new Set<Delivery<number>>();
    const seen: number[] = [];
    let most = 0;
    const consumer = await queue.consume(
      (delivery) => {
        unsettled.add(delivery);
        seen.push(delivery.body);
        most = Math.max(most, unsettled.size);
        setTimeout(() => {
          unsettled.delete(delivery);
          void delivery.ack();
        }, 2);
      },
      { prefetch: 4 },
    );
    await until(() => seen.length === 50, '50 deliveries');
    await consumer.cancel();
    expect(most).toBeLessThanOrEqual(4);
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('the acks of one turn reach the store in one call', async () => {
    const { queue, store } = pollingQueue();
    await queue.putMany([1, 2, 3, 4, 5]);
    const deliveries = [];
    for (let i = 0; i < 5; i++) deliveries.push(await queue.get());
    await Promise.all(deliveries.map((delivery) => delivery.ack()));
    expect(store.calls.filter((call) => call.method === 'ack')).toEqual([{ method: 'ack', count: 5 }]);
    expect(store.rows).toEqual([]);
  });

  it('nack requeues behind the waiting items; countAttempt: false keeps the attempt', async () => {
    const { queue } = pollingQueue();
    await queue.putMany([1, 2]);
    await (await queue.get()).nack();
    const second = await queue.get();
    expect(second.body).toBe(2);
    await second.nack({ countAttempt: false });
    expect((await queue.get()).attempt).toBe(2); // item 1: its nack counted
    expect((await queue.get()).attempt).toBe(1); // item 2: given back uncounted
  });

  it('nack without requeue dead-letters to the deadLetter queue, or drops the item without one', async () => {
    const { queue, store } = pollingQueue({ deadLetter: 'jobs.failed' });
    await queue.put(1);
    await (await queue.get()).nack({ requeue: false });
    expect(store.deadLettered.map((moved) => moved.target)).toEqual(['jobs.failed']);
    const { queue: plain, store: plainStore } = pollingQueue();
    await plain.put(1);
    await (await plain.get()).nack({ requeue: false });
    expect(plainStore.deadLettered).toEqual([]);
    expect(plainStore.rows).toEqual([]);
  });

  it('an undecodable payload is dead-lettered to <name>.dead, never handed out; get moves on', async () => {
    const { queue, store } = pollingQueue();
    store.put([Uint8Array.of(0xc1)], { priority: 0, delayMs: 0, maxsize: 0 }); // 0xc1: never valid msgpack
    await queue.put(2);
    expect((await queue.get()).body).toBe(2);
    expect(store.deadLettered.map((moved) => moved.target)).toEqual(['jobs.dead']);
  });
});

describe('PollingQueue: leases, close, abandon, failures', () => {
  it('renews the lease of held items while it holds some, and stops once none are held', async () => {
    const { queue, store } = pollingQueue({}, { leaseMs: 60 });
    await queue.put(1);
    const delivery = await queue.get();
    await until(() => store.count('renew') >= 3, 'three renewals');
    // Renewed: the item outlived its 60 ms lease and is still held.
    await expect(queue.get({ timeoutMs: 0 })).rejects.toBeInstanceOf(QueueEmptyError);
    await delivery.ack();
    const renewals = store.count('renew');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(store.count('renew') - renewals).toBeLessThanOrEqual(1);
  });

  it('never renews a visibility timeout: the item comes back with its attempt counted', async () => {
    const { queue, store } = pollingQueue({ visibilityTimeoutMs: 60 });
    await queue.put(1);
    await queue.get();
    const again = await within(queue.get());
    expect(again.attempt).toBe(2);
    expect(store.count('renew')).toBe(0);
  });

  it('close gives back what the handle held, attempt counted, and rejects a waiting get with ConnectionClosedError', async () => {
    const store = new MemoryPollingStore();
    const { queue } = pollingQueue({}, { pollMs: NEVER_POLL }, store);
    await queue.put(1);
    const held = await queue.get();
    const waiting = queue.get();
    await queue.close();
    await expect(within(waiting)).rejects.toBeInstanceOf(ConnectionClosedError);
    await held.ack(); // already given back: a no-op
    const { queue: next } = pollingQueue({}, {}, store);
    const back = await within(next.get());
    expect([back.body, back.attempt]).toEqual([1, 2]);
    await expect(queue.put(2)).rejects.toBeInstanceOf(ConnectionClosedError);
  });

  it('abandon gives nothing back and settles nothing; the lease brings the items back; later calls reject', async () => {
    const store = new MemoryPollingStore();
    const { queue } = pollingQueue({}, { leaseMs: 100 }, store);
    await queue.putMany([1, 2]);
    const first = await queue.get();
    const second = await queue.get();
    queue.abandon();
    await first.ack();
    await second.nack();
    expect(store.count('ack') + store.count('requeue')).toBe(0);
    await expect(queue.get()).rejects.toBeInstanceOf(ConnectionClosedError);
    const { queue: next } = pollingQueue({}, {}, store);
    const back = [await within(next.get()), await within(next.get())];
    expect(back.map((d) => [d.body, d.attempt])).toEqual([
      [1, 2],
      [2, 2],
    ]);
  });

  it('a store failure rejects a get with a BackendError keeping the cause; a consumer backs off and goes on', async () => {
    const { queue, store } = pollingQueue();
    await queue.put(1);
    store.failNext.set('take', 1);
    const error = await queue.get().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendError);
    expect((error as BackendError).retryable).toBe(true);
    expect((error as BackendError).cause).toMatchObject({ code: 'ECONNRESET' });
    store.failNext.set('take', 3);
    const seen: number[] = [];
    const consumer = await queue.consume(async (delivery) => {
      seen.push(delivery.body);
      await delivery.ack();
    });
    await until(() => seen.length === 1, 'the delivery after three failed takes');
    await consumer.cancel();
    expect(seen).toEqual([1]);
  });

  it('items whose take was in flight when the handle closed go back uncounted', async () => {
    const store = new MemoryPollingStore();
    const { queue } = pollingQueue({}, {}, store);
    await queue.put(1);
    // A networked store: the take answers after a while, and the handle closes meanwhile.
    const take = store.take.bind(store);
    let answer!: () => void;
    store.take = (limit, lease) =>
      new Promise((resolve) => {
        answer = () => resolve(take(limit, lease));
      }) as never;
    const getting = queue.get();
    await until(() => answer !== undefined, 'the take to start');
    const closing = queue.close();
    answer();
    await expect(within(getting)).rejects.toBeInstanceOf(ConnectionClosedError);
    await closing;
    store.take = take;
    const { queue: next } = pollingQueue({}, {}, store);
    const back = await next.get();
    expect([back.body, back.attempt]).toEqual([1, 1]);
  });

  it('sharedWakeSignal hands out one signal per key', () => {
    expect(sharedWakeSignal('a')).toBe(sharedWakeSignal('a'));
    expect(sharedWakeSignal('a')).not.toBe(sharedWakeSignal('b'));
  });
});
