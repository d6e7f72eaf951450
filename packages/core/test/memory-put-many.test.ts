import { describe, expect, it } from 'vitest';
import { createMemoryTransport } from '../src/index.js';

describe('memory:// putMany', () => {
  it('stores none of a batch that holds an item that cannot be encoded', async () => {
    const connection = await createMemoryTransport().connect({ url: 'memory://put-many-atomic' });
    try {
      const queue = await connection.queue('batch');
      await expect(queue.putMany([1, Symbol('no codec carries this'), 3])).rejects.toThrow();
      expect(await queue.size()).toBe(0);
      await queue.putMany([1, 2, 3]);
      expect(await queue.size()).toBe(3);
    } finally {
      await connection.close();
    }
  });
});
