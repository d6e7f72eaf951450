import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { type Connection, type TaskEnvelope, taskQueueOptions, Worker } from '@taskwire/core';
import { startPrivateRedis } from '@taskwire/test-brokers';
import { MIGRATION_VERSIONS } from '@taskwire/transport-postgres';
import createTcpTransport, { serve, type TcpServer } from '@taskwire/transport-tcp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type AdminBackend, BROKER_TRANSPORTS, openBackend } from './backends.js';
import { ADMIN_CLI, NO_INSPECTION_TRANSPORT, runAdmin, runAdminOnTerminal } from './helpers.js';

// The real `taskwire` binary, spawned, against a TCP manager this test process hosts (as a master does), and
// against each broker in a namespace of the run's own.
const authkey = randomBytes(16).toString('hex');
let server: TcpServer;
let prefix = 0;
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** Where the commands run: the flags that reach it and a connection of the test's own. */
interface Target {
  flags: string[];
  client: Connection;
  connect(): Promise<Connection>;
}

/** A fresh task queue on `target` with `ready` tasks, and `dead` tasks already in its dead-letter queue. */
async function taskQueue(target: Target, ready: number, dead: number) {
  const name = `admin-${process.pid}-${++prefix}`;
  const queue = await target.client.queue(name, taskQueueOptions(name));
  const deadLetter = await target.client.queue(`${name}.dead`);
  const task = (id: string): TaskEnvelope => ({
    id,
    kind: 'square',
    payload: 7,
    maxAttempts: 1,
    replyTo: 'nobody',
    createdAt: Date.now(),
  });
  for (let i = 0; i < ready; i++) await queue.put(task(`r${i}`));
  for (let i = 0; i < dead; i++) await deadLetter.put(task(`d${i}`));
  return { name };
}

const json = (stdout: string) => JSON.parse(stdout) as unknown;

/** The commands every transport with inspection answers alike: queues, stats, peek, dead, purge, workers. */
function commandCases(current: () => Target) {
  it('queues and stats show the counts, as a table and as --json', async () => {
    const target = current();
    const { flags } = target;
    const { name } = await taskQueue(target, 3, 2);
    const listed = await runAdmin(['queues', ...flags, '--json']);
    expect(listed.stderr).toBe('');
    expect(listed.code).toBe(0);
    expect(json(listed.stdout)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name, ready: 3, deadLetter: { name: `${name}.dead`, size: 2 } }),
      ]),
    );
    const stats = await runAdmin(['stats', name, ...flags]);
    expect(stats.code).toBe(0);
    expect(stats.stdout).toMatch(/^QUEUE\s+READY\s+DELAYED\s+IN FLIGHT\s+CONSUMERS\s+DEAD$/m);
    expect(stats.stdout).toMatch(new RegExp(`^${name}\\s+3\\s+0\\s+0\\s+\\S+\\s+2$`, 'm'));
  });

  it('stats --watch prints again every interval until SIGINT, then exits 0', async () => {
    const target = current();
    const { flags } = target;
    const { name } = await taskQueue(target, 1, 0);
    const watched = await runAdmin(['stats', name, ...flags, '--watch', '--interval', '0.2', '--json'], {
      interruptWhen: (stdout) => stdout.split('\n').length > 3,
    });
    expect(watched.code).toBe(0);
    const lines = watched.stdout.trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(3);
    for (const line of lines) expect(JSON.parse(line)).toMatchObject({ name, ready: 1 });
  });

  it('peek shows items without taking them', async () => {
    const target = current();
    const { flags } = target;
    const { name } = await taskQueue(target, 3, 0);
    const peeked = await runAdmin(['peek', name, '-n', '2', ...flags, '--json']);
    expect(peeked.code).toBe(0);
    const items = json(peeked.stdout) as { kind: string; payload: unknown; state: string }[];
    expect(items).toHaveLength(2);
    expect(items[0]).toMatchObject({ kind: 'square', payload: 7, state: 'ready' });
    const after = await runAdmin(['stats', name, ...flags, '--json']);
    expect(json(after.stdout)).toMatchObject({ ready: 3 });
  });

  it('dead lists the dead-letter queue; --requeue --ids moves those back; --requeue moves the rest', async () => {
    const target = current();
    const { flags } = target;
    const { name } = await taskQueue(target, 0, 3);
    const shown = await runAdmin(['dead', name, ...flags, '--json']);
    const items = json(shown.stdout) as { id: string; kind: string; payload: unknown }[];
    expect(items).toHaveLength(3);
    for (const item of items) expect(item).toMatchObject({ kind: 'square', payload: 7 });
    const deadIds = items.map((item) => item.id);
    const one = await runAdmin(['dead', name, ...flags, '--requeue', '--ids', deadIds[0]!]);
    expect(one.stdout.trim()).toBe(`requeued 1 item from ${name}.dead to ${name}`);
    expect(json((await runAdmin(['stats', name, ...flags, '--json'])).stdout)).toMatchObject({
      ready: 1,
      deadLetter: { size: 2 },
    });
    const rest = await runAdmin(['dead', name, ...flags, '--requeue', '--json']);
    expect(json(rest.stdout)).toEqual({ from: `${name}.dead`, to: name, moved: 2 });
  });

  it('purge refuses without --yes when stdin is not a terminal, and purges with it', async () => {
    const target = current();
    const { flags } = target;
    const { name } = await taskQueue(target, 4, 1);
    const refused = await runAdmin(['purge', name, ...flags]);
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim()).toBe(
      `taskwire: error: purge every waiting item of ${name}: refused without --yes (stdin is not a terminal)`,
    );
    expect(json((await runAdmin(['stats', name, ...flags, '--json'])).stdout)).toMatchObject({ ready: 4 });
    const purged = await runAdmin(['purge', name, ...flags, '--yes', '--json']);
    expect(json(purged.stdout)).toEqual({ queue: name, removed: 4 });
    const dead = await runAdmin(['dead', name, ...flags, '--purge', '--yes']);
    expect(dead.stdout.trim()).toBe(`purged 1 item from ${name}.dead`);
  });

  it('workers lists the live workers', async () => {
    const target = current();
    const { flags } = target;
    const { name } = await taskQueue(target, 0, 0);
    const connection = await target.connect();
    const worker = await Worker.start({
      connection,
      queue: name,
      name: 'cli-test-worker',
      handler: (n: number) => n,
    });
    cleanups.push(async () => {
      await worker.stop();
      await connection.close();
    });
    const listed = await runAdmin(['workers', ...flags, '--json']);
    expect(listed.code).toBe(0);
    expect(json(listed.stdout)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'cli-test-worker', queue: name, state: 'running' }),
      ]),
    );
    const table = await runAdmin(['workers', ...flags]);
    expect(table.stdout).toMatch(new RegExp(`^cli-test-worker\\s+\\S+\\s+${process.pid}\\s+${name}\\s`, 'm'));
  });
}

describe('taskwire against a TCP manager', () => {
  let tcp: Target;
  let flags: string[];
  beforeAll(async () => {
    server = await serve({ port: 0, authkey });
    const connect = () => createTcpTransport().connect({ url: server.url, authkey });
    flags = ['--url', server.url, '--authkey', authkey];
    tcp = { flags, client: await connect(), connect };
  });
  afterAll(async () => {
    await tcp.client.close();
    await server.close();
  });
  commandCases(() => tcp);

  it('purge asks on a terminal: no keeps the items, yes purges them', async () => {
    const { name } = await taskQueue(tcp, 2, 0);
    const declined = await runAdminOnTerminal(['purge', name, ...flags], 'n\n');
    expect(declined.code).toBe(1);
    expect(declined.output).toContain(`purge every waiting item of ${name}? [y/N]`);
    expect(declined.output).toContain(`taskwire: ${name} not purged`);
    expect(json((await runAdmin(['stats', name, ...flags, '--json'])).stdout)).toMatchObject({ ready: 2 });
    const accepted = await runAdminOnTerminal(['purge', name, ...flags], 'y\n');
    expect(accepted.code).toBe(0);
    expect(accepted.output).toContain(`purged 2 items from ${name}`);
  });

  it('metrics serves the depth of every queue by state for Prometheus until SIGINT', async () => {
    const { name } = await taskQueue(tcp, 3, 2);
    const child = spawn(process.execPath, [ADMIN_CLI, 'metrics', ...flags, '--port', '0', '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let stdout = '';
        child.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk;
          const line = stdout.split('\n').find((candidate) => candidate.startsWith('{'));
          if (line && stdout.includes('\n')) resolve((JSON.parse(line) as { url: string }).url);
        });
        child.once('exit', (code) =>
          reject(new Error(`taskwire metrics exited with ${code} before serving`)),
        );
      });
      const scraped = await (await fetch(url)).text();
      expect(scraped).toContain(`taskwire_queue_depth{queue="${name}",state="ready"} 3`);
      expect(scraped).toContain(`taskwire_queue_depth{queue="${name}",state="dead"} 2`);
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    } finally {
      clearTimeout(killer);
      child.kill('SIGKILL');
    }
  });

  it('migrate says there is nothing to migrate', async () => {
    const migrated = await runAdmin(['migrate', ...flags]);
    expect(migrated).toMatchObject({
      code: 0,
      stdout: 'nothing to migrate: the tcp transport keeps no schema\n',
    });
  });

  it('a wrong authkey is one line and exit 2', async () => {
    const refused = await runAdmin(['queues', '--url', server.url, '--authkey', 'wrong']);
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/^taskwire: error: .*authkey/);
  });

  it('the settings come from the environment too', async () => {
    const { name } = await taskQueue(tcp, 2, 0);
    const fromEnv = await runAdmin(['stats', '--json'], {
      env: { TASKWIRE_URL: server.url, TASKWIRE_AUTHKEY: authkey, TASKWIRE_QUEUE: name },
    });
    expect(json(fromEnv.stdout)).toMatchObject({ name, ready: 2 });
  });
});

describe.each(BROKER_TRANSPORTS.filter((transport) => transport !== 'rabbitmq'))(
  'taskwire on %s',
  (transport) => {
    let backend: AdminBackend;
    let target: Target;
    beforeAll(async () => {
      backend = await openBackend(transport);
      target = { flags: backend.flags, client: await backend.connect(), connect: backend.connect };
    });
    afterAll(async () => {
      await target?.client.close();
      await backend?.drop();
    });

    commandCases(() => target);
  },
);

describe('taskwire on rabbitmq (a private node with the management API)', () => {
  let backend: AdminBackend;
  let target: Target;
  beforeAll(async () => {
    backend = await openBackend('rabbitmq');
    target = { flags: backend.flags, client: await backend.connect(), connect: backend.connect };
  }, 120_000);
  afterAll(async () => {
    await target?.client.close();
    await backend?.drop();
  });

  /** Run `taskwire ...args --json` until its output satisfies `ok` (the management API samples its figures). */
  async function settled(args: string[], ok: (value: unknown) => boolean): Promise<unknown> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const { stdout, stderr } = await runAdmin([...args, ...target.flags, '--json']);
      const value = stdout ? json(stdout) : stderr;
      if (ok(value) || Date.now() > deadline) return value;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  it('queues and stats show the counts; dead --requeue moves them all back; purge empties the queue', async () => {
    const { name } = await taskQueue(target, 3, 2);
    const counts = (value: unknown) => value as { ready: number; deadLetter: { size: number } };
    const listed = (await settled(['queues'], (value) =>
      (value as { name: string; ready: number }[]).some((q) => q.name === name && q.ready === 3),
    )) as unknown[];
    expect(listed).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name, ready: 3, deadLetter: { name: `${name}.dead`, size: 2 } }),
      ]),
    );
    const requeued = await runAdmin(['dead', name, ...target.flags, '--requeue', '--json']);
    expect(json(requeued.stdout)).toEqual({ from: `${name}.dead`, to: name, moved: 2 });
    expect(
      await settled(
        ['stats', name],
        (value) => counts(value).ready === 5 && counts(value).deadLetter.size === 0,
      ),
    ).toMatchObject({ ready: 5, deadLetter: { size: 0 } });
    const purged = await runAdmin(['purge', name, ...target.flags, '--yes', '--json']);
    expect(json(purged.stdout)).toEqual({ queue: name, removed: 5 });
  });

  it('peek and listing the dead letters are refused with one line (AMQP cannot look without taking)', async () => {
    const { name } = await taskQueue(target, 1, 1);
    for (const command of [
      ['peek', name],
      ['dead', name],
    ]) {
      const refused = await runAdmin([...command, ...target.flags]);
      expect(refused).toMatchObject({
        code: 1,
        stderr: 'taskwire: error: the rabbitmq transport cannot peek (capability "peek")\n',
      });
    }
  });

  it('workers lists the live workers', async () => {
    const { name } = await taskQueue(target, 0, 0);
    const connection = await target.connect();
    const worker = await Worker.start({
      connection,
      queue: name,
      name: 'rabbit-worker',
      handler: (n: number) => n,
    });
    cleanups.push(async () => {
      await worker.stop();
      await connection.close();
    });
    const listed = await runAdmin(['workers', ...target.flags, '--json']);
    expect(json(listed.stdout)).toEqual([
      expect.objectContaining({ name: 'rabbit-worker', queue: name, state: 'running' }),
    ]);
  });
});

describe('taskwire migrate on postgres', () => {
  it('applies every migration to a fresh schema once, then says it is up to date', async () => {
    const backend = await openBackend('postgres');
    cleanups.push(() => backend.drop());
    const first = await runAdmin(['migrate', ...backend.flags, '--json']);
    expect(first.stderr).toBe('');
    expect(json(first.stdout)).toEqual({ transport: 'postgres', applied: [...MIGRATION_VERSIONS] });
    const again = await runAdmin(['migrate', ...backend.flags]);
    expect(again).toMatchObject({ code: 0, stdout: 'postgres: already up to date\n' });
  });
});

describe('taskwire dashboard with its backend gone', () => {
  it('exits 0 on SIGINT without waiting for the backend to come back', async () => {
    const redis = await startPrivateRedis({ persistent: false });
    cleanups.push(() => redis.stop());
    const child = spawn(
      process.execPath,
      [ADMIN_CLI, 'dashboard', '--transport', 'redis', '--url', redis.url, '--port', '0', '--json'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal, stderr })),
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    cleanups.push(async () => {
      child.kill('SIGKILL');
    });
    const line = await new Promise<string>((resolve) =>
      child.stdout.once('data', (chunk) => resolve(`${chunk}`)),
    );
    const { url } = JSON.parse(line) as { url: string };
    expect((await fetch(`${url}api/state`)).status).toBe(200); // serving: its signal handlers are in place
    await redis.kill();
    child.kill('SIGINT');
    // Before: the worker directory's unsubscribe waited for Redis to come back (up to the 5 min reconnect deadline).
    expect(await exited).toEqual({ code: 0, signal: null, stderr: '' });
  }, 30_000);
});

describe('taskwire on a transport without inspection', () => {
  it('refuses stats, peek and queues with one clear line and exit 1', async () => {
    for (const command of [['stats', 'q'], ['peek', 'q'], ['queues']]) {
      const refused = await runAdmin([...command, '--transport', NO_INSPECTION_TRANSPORT]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/^taskwire: error: the no-inspection transport cannot \w+( queues)?\n$/);
    }
  });

  it('--log-format json reports the refusal as one JSON line', async () => {
    const refused = await runAdmin([
      'stats',
      'q',
      '--transport',
      NO_INSPECTION_TRANSPORT,
      '--log-format',
      'json',
    ]);
    expect(refused.code).toBe(1);
    const lines = refused.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: 'fatal',
      name: 'taskwire',
      code: 'TASKWIRE_UNSUPPORTED',
      msg: 'the no-inspection transport cannot stats',
    });
  });

  it('rejects conflicting flags with exit 2', async () => {
    const both = await runAdmin([
      'dead',
      'q',
      '--requeue',
      '--purge',
      '--transport',
      NO_INSPECTION_TRANSPORT,
    ]);
    expect(both).toMatchObject({
      code: 2,
      stderr: 'taskwire: error: --requeue and --purge exclude each other\n',
    });
  });
});
