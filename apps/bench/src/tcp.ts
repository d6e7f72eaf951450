// `pnpm bench tcp`: the TCP manager side by side with a raw loopback and the Python seed.
//
//   --tasks 200000        tasks per taskwire run (tiny: an integer; the worker returns its square)
//   --runs 3              runs per scenario (medians are reported)
//   --prefetch 1000       worker consume window
//   --window 1000         the task layer's Master.map window (taskwire-master's default)
//   --python-tasks 20000  tasks per Python seed run (skipped without python3)
//   --rss-tasks 1000000   tiny tasks queued on a standalone server to measure its peak RSS
import { execFile, execFileSync, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { type Delivery, Master } from '@taskwire/core';
import { createTcpTransport, serve } from '@taskwire/transport-tcp';
import { Packr } from 'msgpackr';
import { exited, forkScript, median, parseArgs, printTable, rate } from './util.js';

const AUTHKEY = 'taskwire-bench-authkey';

/** Master with the embedded server; `workers` forked worker processes. Returns ms for `tasks`. */
async function taskwireRun(tasks: number, workers: number, prefetch: number): Promise<number> {
  const server = await serve({ port: 0, authkey: AUTHKEY });
  const local = await server.connect();
  const taskQueue = await local.queue<number>('bench.tasks');
  const resultQueue = await local.queue<number>('bench.results');
  const children = Array.from({ length: workers }, () =>
    forkScript('tcp-worker.js', [server.url, String(prefetch)], { TASKWIRE_AUTHKEY: AUTHKEY }),
  );
  await Promise.all(children.map((child) => new Promise((resolve) => child.once('message', resolve))));

  let received = 0;
  let sum = 0;
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const started = performance.now();
  await resultQueue.consume(
    (delivery: Delivery<number>) => {
      sum += delivery.body;
      void delivery.ack();
      if (++received === tasks) finish();
    },
    { prefetch: 10_000 },
  );
  await taskQueue.putMany(Array.from({ length: tasks }, (_, i) => i));
  await done;
  const ms = performance.now() - started;

  let expected = 0;
  for (let i = 0; i < tasks; i++) expected += i * i;
  if (sum !== expected) throw new Error(`wrong results: sum ${sum} != ${expected}`);
  for (const child of children) child.send('stop');
  await Promise.all(children.map(exited));
  await local.close();
  await server.close();
  return ms;
}

/**
 * The task layer over the same manager: a `Master` in this process (next to the embedded server, as in
 * `taskwire-master`) maps `tasks` integers through one forked `Worker`. Returns the whole run's ms and the ms of
 * its steady state (the results after the first 10%, once both sides are warm).
 */
async function taskLayerRun(tasks: number, window: number): Promise<{ whole: number; steady: number }> {
  const server = await serve({ port: 0, authkey: AUTHKEY });
  const local = await server.connect();
  const master = await Master.start({ connection: local, queue: 'bench.tl' });
  const child = forkScript('tcp-task-worker.js', [server.url, 'bench.tl'], { TASKWIRE_AUTHKEY: AUTHKEY });
  await new Promise((resolve) => child.once('message', resolve));
  const warm = Math.floor(tasks / 10);
  let received = 0;
  let sum = 0;
  let warmAt = 0;
  const started = performance.now();
  for await (const result of master.map<number>(integers(tasks), { window })) {
    sum += result.value!;
    if (++received === warm) warmAt = performance.now();
  }
  const ended = performance.now();
  let expected = 0;
  for (let i = 0; i < tasks; i++) expected += i * i;
  if (sum !== expected) throw new Error(`wrong results: sum ${sum} != ${expected}`);
  child.send('stop');
  await exited(child);
  await master.close();
  await local.close();
  await server.close();
  return { whole: ended - started, steady: ended - warmAt };
}

function* integers(count: number): Generator<number> {
  for (let i = 0; i < count; i++) yield i;
}

/**
 * The real demo as a user runs it: `taskwire-master --workers 2 --tasks N` on the embedded manager. Returns the
 * job's ms as the master reports it (from its start, local workers' start-up included): with one task, the time to
 * the first result.
 */
async function demoRun(tasks: number): Promise<number> {
  const cli = createRequire(import.meta.url)
    .resolve('taskwire-master/package.json')
    .replace(/package\.json$/, 'dist/cli.js');
  const stderr = await new Promise<string>((resolve, reject) =>
    execFile(
      process.execPath,
      [cli, '--workers', '2', '--port', '0', '--tasks', String(tasks)],
      (error, _out, err) => (error ? reject(error) : resolve(err)),
    ),
  );
  const elapsed = /elapsed ([\d.]+)s/.exec(stderr);
  if (!elapsed) throw new Error(`no summary from taskwire-master: ${stderr.slice(-200)}`);
  return Number(elapsed[1]) * 1000;
}

/**
 * Time to the first result as a user sees it: from spawning `taskwire-master --workers 2 --tasks 1` (Node's own
 * start-up included) to its summary line on stderr.
 */
async function firstResultRun(): Promise<{ reported: number; wall: number }> {
  const cli = createRequire(import.meta.url)
    .resolve('taskwire-master/package.json')
    .replace(/package\.json$/, 'dist/cli.js');
  const spawned = performance.now();
  const child = spawn(process.execPath, [cli, '--workers', '2', '--port', '0', '--tasks', '1'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const wall = await new Promise<number>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (/elapsed [\d.]+s/.test(stderr)) resolve(performance.now() - spawned);
    });
    child.once('exit', () => reject(new Error(`no summary from taskwire-master: ${stderr.slice(-200)}`)));
  });
  await exited(child);
  return { reported: Number(/elapsed ([\d.]+)s/.exec(stderr)![1]) * 1000, wall };
}

/**
 * The raw baseline: an echo-and-square server here, a client process with `window` in flight. Both sides answer
 * every chunk they read with one `write` of one concatenated buffer.
 */
async function rawRun(count: number, window: number): Promise<number> {
  const packr = new Packr({ useRecords: false });
  const server = createServer((socket: Socket) => {
    socket.setNoDelay(true);
    let buffered: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
      let offset = 0;
      const replies: Buffer[] = [];
      while (buffered.length - offset >= 4) {
        const length = buffered.readUInt32BE(offset);
        if (buffered.length - offset - 4 < length) break;
        const [id, n] = packr.unpack(buffered.subarray(offset + 4, offset + 4 + length)) as [number, number];
        offset += 4 + length;
        const body = packr.pack([id, n * n]);
        const header = Buffer.allocUnsafe(4);
        header.writeUInt32BE(body.length, 0);
        replies.push(header, body);
      }
      buffered = buffered.subarray(offset);
      if (replies.length > 0) socket.write(Buffer.concat(replies));
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const child = forkScript('tcp-raw-client.js', [String(port), String(count), String(window)]);
  const { ms } = await new Promise<{ ms: number }>((resolve) => child.once('message', resolve as never));
  await exited(child);
  await new Promise((resolve) => server.close(resolve));
  return ms;
}

function hasPython(): boolean {
  try {
    execFileSync('python3', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function pythonRun(tasks: number, workers: number): Promise<number> {
  const script = fileURLToPath(new URL('../python/seed_master.py', import.meta.url));
  const stdout = await new Promise<string>((resolve, reject) =>
    execFile('python3', [script, String(tasks), String(workers)], (error, out) =>
      error ? reject(error) : resolve(out),
    ),
  );
  return (JSON.parse(stdout.trim().split('\n').pop()!) as { ms: number }).ms;
}

/** Queue `count` tiny tasks on a standalone server process over TCP; its peak RSS in MiB. */
async function rssRun(count: number): Promise<{ peakRssMiB: number; queued: number }> {
  const child = forkScript('tcp-rss-server.js', [], { TASKWIRE_AUTHKEY: AUTHKEY });
  const { port } = await new Promise<{ port: number }>((resolve) => child.once('message', resolve as never));
  const connection = await createTcpTransport({ authkey: AUTHKEY }).connect({
    url: `tcp://127.0.0.1:${port}`,
  });
  const queue = await connection.queue<number>('bench.rss');
  const chunk = 50_000;
  for (let start = 0; start < count; start += chunk) {
    await queue.putMany(Array.from({ length: Math.min(chunk, count - start) }, (_, i) => start + i));
  }
  const report = new Promise<{ peakRssMiB: number; queued: number }>((resolve) =>
    child.once('message', resolve as never),
  );
  child.send('report');
  const result = await report;
  await connection.close();
  await exited(child);
  return result;
}

/** Run the TCP manager benchmark. */
export async function main(args: string[]): Promise<void> {
  const options = parseArgs(args);
  const tasks = Number(options.tasks ?? 200_000);
  const runs = Number(options.runs ?? 3);
  const prefetch = Number(options.prefetch ?? 1000);
  // The raw baseline keeps as many in flight as a taskwire worker's consume window.
  const RAW = `raw loopback, ${prefetch} in flight, one write per tick`;
  const window = Number(options.window ?? 1000);
  const pythonTasks = Number(options['python-tasks'] ?? 20_000);
  const rssTasks = Number(options['rss-tasks'] ?? 1_000_000);
  const rows: Record<string, string | number>[] = [];
  const rates: Record<string, number> = {};
  const record = (name: string, count: number, times: number[]) => {
    const ms = median(times);
    rates[name] = (count * 1000) / ms;
    rows.push({
      scenario: name,
      items: count,
      runs: times.length,
      'median ms': Math.round(ms),
      'median rate': rate(count, ms),
      'all runs ms': times.map(Math.round).join(' / '),
    });
    console.log(`${name}: ${rate(count, ms)} (median of ${times.length})`);
  };
  const repeat = async (fn: () => Promise<number>) => {
    const times: number[] = [];
    for (let i = 0; i < runs; i++) times.push(await fn());
    return times;
  };

  // Alternate the queue path and the task layer so both see the same machine.
  const queuePath: number[] = [];
  const raw: number[] = [];
  const layerWhole: number[] = [];
  const layerSteady: number[] = [];
  const demo: number[] = [];
  const firstReported: number[] = [];
  const firstWall: number[] = [];
  for (let i = 0; i < runs; i++) {
    queuePath.push(await taskwireRun(tasks, 1, prefetch));
    raw.push(await rawRun(tasks, prefetch));
    const { whole, steady } = await taskLayerRun(tasks, window);
    layerWhole.push(whole);
    layerSteady.push(steady);
    demo.push(await demoRun(tasks));
    const first = await firstResultRun();
    firstReported.push(first.reported);
    firstWall.push(first.wall);
  }
  record('taskwire tcp, 1 worker', tasks, queuePath);
  record('task layer, 1 worker (whole run)', tasks, layerWhole);
  record('task layer, 1 worker (steady state)', tasks - Math.floor(tasks / 10), layerSteady);
  record('taskwire-master --workers 2 (the demo, whole)', tasks, demo);
  record('taskwire tcp, 2 workers', tasks, await repeat(() => taskwireRun(tasks, 2, prefetch)));
  record(RAW, tasks, raw);
  const python = hasPython() && pythonTasks > 0;
  if (python) {
    record('python seed, 1 worker', pythonTasks, await repeat(() => pythonRun(pythonTasks, 1)));
    record('python seed, 2 workers', pythonTasks, await repeat(() => pythonRun(pythonTasks, 2)));
  } else console.log('python3 not found or --python-tasks 0: skipping the seed comparison');
  printTable(`TCP manager, tiny tasks (${tasks.toLocaleString('en-US')} per taskwire run)`, rows);

  const ratio = (a: string, b: string) => (rates[a]! / rates[b]!).toFixed(2);
  const ratios: Record<string, string>[] = [
    {
      comparison: 'task layer steady state / queue path (1 worker)',
      ratio: ratio('task layer, 1 worker (steady state)', 'taskwire tcp, 1 worker'),
      target: '≥ 0.75',
    },
    {
      comparison: 'task layer whole run / queue path (1 worker)',
      ratio: ratio('task layer, 1 worker (whole run)', 'taskwire tcp, 1 worker'),
      target: '—',
    },
    {
      comparison: 'the demo, whole / queue path (1 worker)',
      ratio: ratio('taskwire-master --workers 2 (the demo, whole)', 'taskwire tcp, 1 worker'),
      target: '≥ 0.5',
    },
  ];
  for (const workers of ['1 worker', '2 workers']) {
    ratios.push({
      comparison: `taskwire ${workers} / raw loopback`,
      ratio: ratio(`taskwire tcp, ${workers}`, RAW),
      target: '≥ 0.5',
    });
    if (python)
      ratios.push({
        comparison: `taskwire ${workers} / python seed ${workers}`,
        ratio: ratio(`taskwire tcp, ${workers}`, `python seed, ${workers}`),
        target: '≥ 20',
      });
  }
  printTable('Ratios (medians, same run)', ratios);
  printTable('First result: taskwire-master --workers 2 --tasks 1 (it starts the workers)', [
    {
      clock: 'as the master reports it (from its start)',
      'median ms': Math.round(median(firstReported)),
      'all runs ms': firstReported.map(Math.round).join(' / '),
      target: '≤ 300',
    },
    {
      clock: 'wall, from spawning the command',
      'median ms': Math.round(median(firstWall)),
      'all runs ms': firstWall.map(Math.round).join(' / '),
      target: '—',
    },
  ]);

  if (rssTasks > 0) {
    const { peakRssMiB, queued } = await rssRun(rssTasks);
    printTable('Server memory', [
      { queued: queued.toLocaleString('en-US'), 'peak RSS MiB': Math.round(peakRssMiB), target: '≤ 200' },
    ]);
  }
}
