import { inOneWrite } from './one-write.js';
import type { RedisClient } from './scripts.js';

/**
 * The end-of-turn flushes (puts, acks) of every queue handle on one command connection, run
 * together in one `setImmediate` with the socket corked: a master's ack of a result and its next
 * put leave in one write instead of one each. Puts run first, so the server stores new work
 * before it settles finished work.
 */
export class WriteTick {
  private puts: (() => void)[] = [];
  private settles: (() => void)[] = [];
  private scheduled = false;

  constructor(private readonly client: RedisClient) {}

  /** Run `flush` at the end of this turn, with the other flushes scheduled meanwhile. */
  schedule(flush: () => void, kind: 'put' | 'settle'): void {
    (kind === 'put' ? this.puts : this.settles).push(flush);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.run);
  }

  private readonly run = (): void => {
    this.scheduled = false;
    const flushes = this.puts.concat(this.settles);
    this.puts = [];
    this.settles = [];
    inOneWrite(this.client, () => {
      for (const flush of flushes) {
        try {
          flush();
        } catch (error) {
          // As from setImmediate of its own: uncaught, without keeping the flushes after it from running.
          queueMicrotask(() => {
            throw error;
          });
        }
      }
    });
  };
}
