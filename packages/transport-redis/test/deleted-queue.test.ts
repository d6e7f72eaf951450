import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { shortLeaseRun } from './redis.js';

// A worker answering many masters: each master consumes its own result queue and deletes it when
// it finishes; the worker's handles to those queues must leave nothing behind.
// Heartbeats every 100 ms: several lease periods fit in each wait below.
const run = shortLeaseRun('trn-deleted', 300);
const { connect, keysOf } = run;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Seconds since the named client's last command, as Redis reports it (CLIENT LIST `idle`). Redis
 * stamps commands in whole seconds, so a client busy every 100 ms reads 0 or 1, and a client quiet
 * for 2.2 s reads at least 2.
 */
async function idleSeconds(connectionName: string): Promise<number> {
  const list = String(await run.admin().call('CLIENT', 'LIST'));
  const line = list.split('\n').find((entry) => entry.includes(` name=${connectionName} `));
  if (!line) throw new Error(`no Redis client named ${connectionName}`);
  return Number(/ idle=(\d+) /.exec(line)![1]);
}

describe('redis: a queue deleted by another connection stays deleted', () => {
  it('a handle that only puts runs no heartbeat and recreates no key after the consumer deletes the queue', async () => {
    const workerName = `trn-worker-${randomBytes(3).toString('hex')}`;
    const worker = await connect(workerName);
    const master = await connect(`trn-master-${randomBytes(3).toString('hex')}`);
    const results = await master.queue<string>('results.a');
    const answer = await worker.queue<string>('results.a');
    await answer.put('result');

    const delivery = await results.get({ timeoutMs: 5000 });
    expect(delivery.body).toBe('result');
    await delivery.ack();
    await results.delete();
    expect(await keysOf('results.a')).toEqual([]);

    // Well past several heartbeat periods of the worker's still-open handle.
    await sleep(2200);
    expect(await keysOf('results.a')).toEqual([]);
    // Nothing was sent on the worker's connection since its put: no heartbeat is running.
    expect(await idleSeconds(workerName)).toBeGreaterThanOrEqual(2);

    await answer.close();
    expect(await keysOf('results.a')).toEqual([]);
  }, 20_000);

  it("a consuming handle's heartbeat recreates nothing after a delete elsewhere, and stops when it closes", async () => {
    const workerName = `trn-worker-${randomBytes(3).toString('hex')}`;
    const worker = await connect(workerName);
    const other = await connect(`trn-other-${randomBytes(3).toString('hex')}`);
    const consuming = await worker.queue<string>('results.b');
    await consuming.put('x');
    const delivery = await consuming.get({ timeoutMs: 5000 });
    await delivery.ack();

    await (await other.queue<string>('results.b')).delete();
    await sleep(1000);
    // The handle that took is still heartbeating (its client is busy), yet writes nothing back.
    expect(await idleSeconds(workerName)).toBeLessThanOrEqual(1);
    expect(await keysOf('results.b')).toEqual([]);

    await consuming.close();
    await sleep(2200);
    expect(await idleSeconds(workerName)).toBeGreaterThanOrEqual(2);
    expect(await keysOf('results.b')).toEqual([]);
  }, 20_000);

  it('a consumer still waiting on a queue deleted elsewhere brings back none of its keys', async () => {
    const worker = await connect(`trn-worker-${randomBytes(3).toString('hex')}`);
    const other = await connect(`trn-other-${randomBytes(3).toString('hex')}`);
    const waiting = await worker.queue<string>('results.c');
    const seen: string[] = [];
    const handle = await waiting.consume(async (delivery) => {
      seen.push(delivery.body);
      await delivery.ack();
    });
    await (await other.queue<string>('results.c')).delete();
    await sleep(1500);
    expect(await keysOf('results.c')).toEqual([]);
    await handle.cancel();
    await waiting.close();
    expect(await keysOf('results.c')).toEqual([]);
    expect(seen).toEqual([]);
  }, 20_000);
});
