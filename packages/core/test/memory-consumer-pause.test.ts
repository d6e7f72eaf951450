import { describe, expect, it } from 'vitest';
import { MemoryEngine, type TaggedItem } from '../src/subpath/engine.js';

describe('memory engine: a paused consumer', () => {
  it('takes nothing while paused (other consumers do), and takes what is ready once resumed', () => {
    const engine = new MemoryEngine<string>();
    try {
      const queue = engine.declare('q', {});
      const slow: TaggedItem<string>[] = [];
      const other: TaggedItem<string>[] = [];
      const slowSession = engine.openSession();
      const slowConsumer = queue.consume(slowSession, 100, (taken) => slow.push(taken));
      slowConsumer.pause();
      for (const value of ['a', 'b']) queue.tryPut(value);
      expect(slow).toHaveLength(0);
      expect(queue.size).toBe(2);

      const otherSession = engine.openSession();
      const otherConsumer = queue.consume(otherSession, 1, (taken) => other.push(taken));
      expect(other.map((t) => t.item.value)).toEqual(['a']);
      otherConsumer.cancel();

      slowConsumer.resume();
      expect(slow.map((t) => t.item.value)).toEqual(['b']);
      queue.tryPut('c');
      expect(slow.map((t) => t.item.value)).toEqual(['b', 'c']);
    } finally {
      engine.dispose();
    }
  });
});
