import { describe, expect, it } from 'vitest';
import { TickBatcher } from '../src/subpath/transport.js';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('TickBatcher', () => {
  it('hands everything added in one turn to onFlush once, together, in order', async () => {
    const batches: number[][] = [];
    const batcher = new TickBatcher<number>((items) => {
      batches.push(items);
    });
    for (let i = 0; i < 5; i++) batcher.add(i);
    expect(batches).toEqual([]);
    expect(batcher.length).toBe(5);
    await nextTurn();
    expect(batches).toEqual([[0, 1, 2, 3, 4]]);
    batcher.add(5);
    await nextTurn();
    expect(batches).toEqual([[0, 1, 2, 3, 4], [5]]);
  });

  it('flushes at once when a batch reaches maxItems or maxBytes', async () => {
    const byCount: number[][] = [];
    const counted = new TickBatcher<number>((items) => byCount.push(items), { maxItems: 3 });
    for (let i = 0; i < 7; i++) counted.add(i);
    expect(byCount).toEqual([
      [0, 1, 2],
      [3, 4, 5],
    ]);
    await nextTurn();
    expect(byCount).toEqual([[0, 1, 2], [3, 4, 5], [6]]);

    const bySize: string[][] = [];
    const sized = new TickBatcher<string>((items) => bySize.push(items), {
      maxBytes: 10,
      bytes: (item) => item.length,
    });
    sized.add('aaaa');
    sized.add('bbbb');
    expect(bySize).toEqual([]);
    sized.add('cc');
    expect(bySize).toEqual([['aaaa', 'bbbb', 'cc']]);
  });

  it('nextFlush is one promise per batch that settles with onFlush’s own promise', async () => {
    let fail = false;
    const batcher = new TickBatcher<number>(async () => {
      await nextTurn();
      if (fail) throw new Error('backend refused');
    });
    const first = batcher.nextFlush();
    batcher.add(1);
    expect(batcher.nextFlush()).toBe(first);
    batcher.add(2);
    await expect(first).resolves.toBeUndefined();

    fail = true;
    const second = batcher.nextFlush();
    expect(second).not.toBe(first);
    batcher.add(3);
    await expect(second).rejects.toThrow('backend refused');
  });

  it('discard drops the waiting items: their promise rejects with the reason, or resolves without one', async () => {
    const flushed: number[][] = [];
    const batcher = new TickBatcher<number>((items) => flushed.push(items));
    const lost = batcher.nextFlush();
    batcher.add(1);
    batcher.discard(new Error('socket gone'));
    await expect(lost).rejects.toThrow('socket gone');
    const moot = batcher.nextFlush();
    batcher.add(2);
    batcher.discard();
    await expect(moot).resolves.toBeUndefined();
    await nextTurn();
    expect(flushed).toEqual([]);
    // A discarded batch does not leave the batcher believing a flush is still scheduled.
    batcher.add(3);
    await nextTurn();
    expect(flushed).toEqual([[3]]);
  });

  it('take removes the waiting items without flushing them', async () => {
    const flushed: number[][] = [];
    const batcher = new TickBatcher<number>((items) => flushed.push(items));
    batcher.add(1);
    batcher.add(2);
    expect(batcher.take()).toEqual([1, 2]);
    expect(batcher.isEmpty).toBe(true);
    await nextTurn();
    expect(flushed).toEqual([]);
  });

  it('a batch riding on another flushes with it: one scheduled turn, riders first', async () => {
    const written: string[][] = [];
    let scheduled = 0;
    const frames: TickBatcher<string> = new TickBatcher<string>((items) => written.push(items), {
      beforeFlush: () => rider.flush(),
      schedule: (flush) => {
        scheduled++;
        setImmediate(flush);
      },
    });
    const rider: TickBatcher<number> = new TickBatcher<number>(
      (items) => frames.add(`acks ${items.join(',')}`),
      { schedule: () => frames.wake() },
    );
    rider.add(1);
    rider.add(2);
    frames.add('reply');
    await nextTurn();
    expect(scheduled).toBe(1);
    expect(written).toEqual([['reply', 'acks 1,2']]);
  });

  it('drain flushes what waits and waits for every batch in flight', async () => {
    let stored = 0;
    const batcher = new TickBatcher<number>(async (items) => {
      await nextTurn();
      stored += items.length;
    });
    batcher.add(1);
    batcher.add(2);
    await batcher.drain();
    expect(stored).toBe(2);
  });
});
