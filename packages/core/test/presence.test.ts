import { afterEach, describe, expect, it } from 'vitest';
import {
  type Connection,
  createMemoryTransport,
  Master,
  UnsupportedError,
  Worker,
  WorkerDirectory,
  type WorkerInfo,
} from '../src/index.js';

const transport = createMemoryTransport();
let engineCounter = 0;
const open: Connection[] = [];
const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  for (const connection of open.splice(0)) await connection.close();
});

async function connect(url: string) {
  const connection = await transport.connect({ url });
  open.push(connection);
  return connection;
}

/** Wait (bounded) until `directory` lists workers matching `ready`. */
async function until(directory: WorkerDirectory, ready: (workers: WorkerInfo[]) => boolean, limitMs = 5_000) {
  const deadline = Date.now() + limitMs;
  while (!ready(directory.list())) {
    if (Date.now() > deadline)
      throw new Error(`directory never got there: ${JSON.stringify(directory.list())}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return directory.list();
}

describe('worker presence', () => {
  it('a directory lists live workers with what they run, their counts, and drops one that stops', async () => {
    const url = `memory://presence-${++engineCounter}`;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const worker = await Worker.start({
      connection: await connect(url),
      queue: 'jobs',
      name: 'w1',
      concurrency: 2,
      handler: async (n: number) => {
        if (n === 0) await gate;
        if (n < 0) throw new Error('negative');
        return n;
      },
    });
    stops.push(() => worker.stop());
    const directory = await WorkerDirectory.watch(await connect(url));
    stops.push(() => directory.close());
    // Answered the directory's ping at once, long before the 5 s heartbeat.
    const [announced] = await until(directory, (workers) => workers.length === 1);
    expect(announced).toMatchObject({
      name: 'w1',
      queue: 'jobs',
      concurrency: 2,
      transport: 'memory',
      pid: process.pid,
      heartbeatMs: 5_000,
      tasksDone: 0,
      state: 'running',
    });

    const master = await Master.start({ connection: await connect(url), queue: 'jobs', maxAttempts: 1 });
    stops.push(() => master.close());
    const done = Promise.all([master.submit(1), master.submit(2), master.submit(-1).catch(() => 'failed')]);
    await done;
    const blocked = master.submit(0);
    // The counts and the running task show in the next heartbeat; ask for one now rather than wait 5 s.
    await new Promise((resolve) => setTimeout(resolve, 50));
    await directory.close();
    const fresh = await WorkerDirectory.watch(await connect(url));
    stops.push(() => fresh.close());
    const busy = (await until(fresh, (workers) => workers[0]?.running.length === 1))[0]!;
    expect(busy.tasksDone).toBe(2);
    expect(busy.tasksFailed).toBe(1);
    expect(busy.running[0]).toMatchObject({ kind: 'default', attempt: 1 });
    release();
    await blocked;

    await worker.stop();
    await until(fresh, (workers) => workers.length === 0, 1_000); // said goodbye: gone at once
  });

  it('a worker that dies without a goodbye is dropped after three heartbeat periods', async () => {
    const url = `memory://presence-${++engineCounter}`;
    const workerConnection = await connect(url);
    const worker = await Worker.start({
      connection: workerConnection,
      handler: (n: number) => n,
      heartbeatMs: 100,
    });
    const directory = await WorkerDirectory.watch(await connect(url));
    stops.push(() => directory.close());
    await until(directory, (workers) => workers.length === 1);
    // A crash: the connection ends, no goodbye is sent, heartbeats stop reaching anyone.
    await workerConnection.close();
    const lostAt = Date.now();
    await until(directory, (workers) => workers.length === 0, 2_000);
    expect(Date.now() - lostAt).toBeGreaterThanOrEqual(200);
    await worker.stop().catch(() => {});
  });

  it('heartbeatMs 0 announces nothing; a bad heartbeatMs is refused', async () => {
    const url = `memory://presence-${++engineCounter}`;
    const worker = await Worker.start({
      connection: await connect(url),
      handler: (n: number) => n,
      heartbeatMs: 0,
    });
    stops.push(() => worker.stop());
    expect(await WorkerDirectory.list(await connect(url), 200)).toEqual([]);
    expect(() => new Worker({ connection: open[0]!, handler: (n: number) => n, heartbeatMs: -1 })).toThrow(
      RangeError,
    );
  });

  it('a transport without broadcast refuses to list workers', async () => {
    const connection = await connect(`memory://presence-${++engineCounter}`);
    const noBroadcast = {
      ...connection,
      transport: {
        ...connection.transport,
        capabilities: { ...connection.transport.capabilities, broadcast: false },
      },
    } as Connection;
    await expect(WorkerDirectory.watch(noBroadcast)).rejects.toBeInstanceOf(UnsupportedError);
  });
});
