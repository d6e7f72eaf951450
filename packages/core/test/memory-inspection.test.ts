import { describe, expect, it } from 'vitest';
import { MemoryEngine } from '../src/memory/engine.js';

// The engine's inspection beyond what the conformance suite sees: a move by ids out of a LIFO or priority queue
// leaves the rest in serving order, a peek's ids are the ones the items are served with, and a move of delayed
// items by id leaves the others delayed.
describe('memory engine inspection', () => {
  const values = (engine: MemoryEngine<string>, name: string) =>
    engine.peek(name, 1000).map((item) => item.value);

  it('a move by ids out of a lifo queue leaves the rest in serving order', () => {
    const engine = new MemoryEngine<string>();
    const source = engine.declare('lifo', { order: 'lifo' });
    engine.declare('target');
    for (const value of ['a', 'b', 'c', 'd', 'e']) source.tryPut(value);
    const ids = engine
      .peek('lifo', 10)
      .filter((item) => ['d', 'b'].includes(item.value))
      .map((item) => item.id);
    expect(engine.moveItems('lifo', 'target', { ids })).toBe(2);
    expect(values(engine, 'lifo')).toEqual(['e', 'c', 'a']);
    expect(values(engine, 'target')).toEqual(['d', 'b']);
    const session = engine.openSession();
    expect(['e', 'c', 'a'].map(() => source.tryTake(session)!.item.value)).toEqual(['e', 'c', 'a']);
    engine.dispose();
  });

  it('a move by ids out of a priority queue keeps the rest in priority order, and served ids match peeked ones', () => {
    const engine = new MemoryEngine<string>();
    const source = engine.declare('prio', { order: 'priority' });
    engine.declare('target');
    const puts: [string, number][] = [
      ['low', 1],
      ['high', 9],
      ['mid', 5],
      ['high-2', 9],
    ];
    for (const [value, priority] of puts) source.tryPut(value, { priority });
    const peeked = engine.peek('prio', 10);
    expect(peeked.map((item) => item.value)).toEqual(['high', 'high-2', 'mid', 'low']);
    const mid = peeked.find((item) => item.value === 'mid')!;
    expect(engine.moveItems('prio', 'target', { ids: [mid.id] })).toBe(1);
    const session = engine.openSession();
    const served = [0, 1, 2].map(() => source.tryTake(session)!.item);
    expect(served.map((item) => item.value)).toEqual(['high', 'high-2', 'low']);
    expect(served.map((item) => item.id)).toEqual(
      peeked.filter((item) => item !== mid).map((item) => item.id),
    );
    engine.dispose();
  });

  it('a fifo item peeked before it is served keeps its id when taken', () => {
    const engine = new MemoryEngine<string>();
    const queue = engine.declare('fifo');
    queue.tryPut('x');
    queue.tryPut('y');
    const [x, y] = engine.peek('fifo', 2);
    const session = engine.openSession();
    expect(queue.tryTake(session)!.item.id).toBe(x!.id);
    expect(queue.tryTake(session)!.item.id).toBe(y!.id);
    engine.dispose();
  });

  it('a move of one delayed item by id leaves the others delayed, soonest first', () => {
    const engine = new MemoryEngine<string>();
    const queue = engine.declare('delayed');
    engine.declare('target');
    queue.tryPut('later', { delayMs: 60_000 });
    queue.tryPut('soon', { delayMs: 30_000 });
    queue.tryPut('latest', { delayMs: 90_000 });
    const soon = engine.peek('delayed', 10).find((item) => item.value === 'soon')!;
    expect(engine.moveItems('delayed', 'target', { ids: [soon.id] })).toBe(1);
    const left = engine.peek('delayed', 10);
    expect(left.map((item) => [item.value, item.state])).toEqual([
      ['later', 'delayed'],
      ['latest', 'delayed'],
    ]);
    expect(engine.stats('target')).toMatchObject({ ready: 1, delayed: 0 });
    engine.dispose();
  });
});
