import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AMQP_URL } from './brokers.js';
import {
  exitWithin,
  freePort,
  inputFile,
  killAfterEach,
  MASTER_CLI,
  run,
  start,
  WORKER_CLI,
  waitFor,
} from './helpers.js';

const TCP_SERVER_CLI = fileURLToPath(new URL('../../../packages/transport-tcp/dist/bin.js', import.meta.url));
const track = killAfterEach();
/** One line on stderr, no stack trace. */
function expectOneLineError(stderr: string, pattern: RegExp) {
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(stderr).not.toMatch(/^\s+at /m);
}

describe('the authkey is one setting: a flag beats the environment beats the config file', () => {
  it('--authkey-file beats TASKWIRE_AUTHKEY on the master and on the worker', async () => {
    const { dir } = inputFile(0);
    const strong = join(dir, 'strong.key');
    writeFileSync(strong, 'strong-secret-key\n');
    const port = await freePort();
    const master = track(
      start(MASTER_CLI, ['--port', String(port), '--authkey-file', strong, '--tasks', '5'], {
        TASKWIRE_AUTHKEY: 'weak',
      }),
    );
    await waitFor(() => /serving/.test(master.stderr()), 10_000, 'the master to listen');
    const url = `tcp://127.0.0.1:${port}`;
    const weak = await run(WORKER_CLI, ['--url', url, '--authkey', 'weak', '--idle-exit', '1']);
    expect(weak.code, weak.stderr).toBe(2);
    expect(weak.stderr).toMatch(/authkey rejected/);
    const worker = track(
      start(WORKER_CLI, ['--url', url, '--authkey-file', strong, '--idle-exit', '1'], {
        TASKWIRE_AUTHKEY: 'weak',
      }),
    );
    const { code } = await exitWithin(master, 20_000, 'the master');
    expect(code, master.stderr()).toBe(0);
    expect(master.stderr()).toMatch(/done 5, failed 0/);
    expect((await exitWithin(worker, 20_000, 'the worker')).code, worker.stderr()).toBe(0);
  });

  it('TASKWIRE_AUTHKEY_FILE beats an authkey in the config file', async () => {
    const { dir } = inputFile(0);
    const strong = join(dir, 'strong.key');
    writeFileSync(strong, 'strong-secret-key\n');
    const config = join(dir, 'taskwire.config.json');
    writeFileSync(config, JSON.stringify({ authkey: 'weak' }));
    const port = await freePort();
    const master = track(
      start(MASTER_CLI, ['--port', String(port), '--config', config, '--tasks', '1'], {
        TASKWIRE_AUTHKEY_FILE: strong,
      }),
    );
    await waitFor(() => /serving/.test(master.stderr()), 10_000, 'the master to listen');
    const weak = await run(WORKER_CLI, ['--url', `tcp://127.0.0.1:${port}`, '--authkey', 'weak']);
    expect(weak.code, weak.stderr).toBe(2);
  });
});

describe('bad input is refused before the first task is submitted', () => {
  it('--output into a missing directory: exit 2, one line', async () => {
    const { code, stdout, stderr } = await run(MASTER_CLI, [
      '--transport',
      'memory',
      '--workers',
      '1',
      '--output',
      '/no/such/dir/out.jsonl',
    ]);
    expect(code).toBe(2);
    expectOneLineError(stderr, /cannot write \/no\/such\/dir\/out\.jsonl: ENOENT/);
    expect(stdout).not.toMatch(/put task/);
  });

  it('--handler ./missing.js with --workers 1: exit 2, one line, nothing submitted', async () => {
    const { code, stdout, stderr } = await run(MASTER_CLI, [
      '--workers',
      '1',
      '--port',
      String(await freePort()),
      '--handler',
      './missing.js',
    ]);
    expect(code).toBe(2);
    expectOneLineError(stderr, /cannot load handler "\.\/missing\.js"/);
    expect(stdout).not.toMatch(/put task/);
  });
});

describe('--input -', () => {
  it('submits the lines that arrived at once, without waiting for a window of them or for EOF', async () => {
    const child = spawn(
      process.execPath,
      [MASTER_CLI, '--transport', 'memory', '--workers', '1', '--input', '-', '--output', '-'],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    try {
      child.stdin.write('1\n2\n3\n');
      await waitFor(() => out.split('\n').filter(Boolean).length === 3, 10_000, '3 results with stdin open');
      child.stdin.write('4\n');
      await waitFor(() => out.split('\n').filter(Boolean).length === 4, 10_000, 'the 4th result');
      child.stdin.end();
      const code = await new Promise((resolve) => child.once('exit', resolve));
      expect(code, err).toBe(0);
      expect(err).toMatch(/done 4, failed 0/);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('the last progress frame shows every task', async () => {
    const { input } = inputFile(500);
    const { code, stderr } = await run(MASTER_CLI, [
      '--transport',
      'memory',
      '--workers',
      '1',
      '--input',
      input,
      '--progress',
    ]);
    expect(code, stderr).toBe(0);
    const frames = stderr.match(/\d+ tasks \|/g) ?? [];
    expect(frames.at(-1), stderr).toBe('500 tasks |');
  });
});

describe('broker errors name the broker’s reason', () => {
  it('a wrong Redis password: WRONGPASS, exit 2', async () => {
    const { code, stderr } = await run(WORKER_CLI, ['--url', 'redis://nobody:wrong@127.0.0.1:6379']);
    expect(code).toBe(2);
    expectOneLineError(stderr, /WRONGPASS/);
    expect(stderr).not.toContain('wrong@');
  });

  it('an unknown Redis host: the resolver’s reason', async () => {
    const { code, stderr } = await run(WORKER_CLI, ['--url', 'redis://no-such-host.invalid:6379']);
    expect(code).not.toBe(0);
    expectOneLineError(stderr, /ENOTFOUND|EAI_AGAIN/);
  });

  it('a wrong RabbitMQ password: ACCESS_REFUSED, exit 2', async () => {
    const url = new URL(AMQP_URL);
    url.password = 'wrong-password';
    const { code, stderr } = await run(WORKER_CLI, ['--url', url.href]);
    expect(code).toBe(2);
    expectOneLineError(stderr, /ACCESS_REFUSED/);
    expect(stderr).not.toContain('wrong-password');
  });
});

describe('taskwire-tcp-server parses and validates its flags like the other CLIs', () => {
  it('--help', async () => {
    const { code, stdout } = await run(TCP_SERVER_CLI, ['--help']);
    expect(code).toBe(0);
    for (const flag of [
      '--host',
      '--port',
      '--authkey',
      '--authkey-file',
      '--tls-cert',
      '--max-frame-bytes',
    ]) {
      expect(stdout).toContain(flag);
    }
  });

  for (const [args, pattern] of [
    [['--port', 'abc'], /--port.*abc|port/],
    [['--max-frame-bytes', 'abc'], /--max-frame-bytes/],
    [['--tls-cert', 'cert.pem'], /--tls-cert.*--tls-key|--tls-key/],
    [['--bogus'], /unknown option '--bogus'/],
  ] as const) {
    it(`${args.join(' ')}: exit 2, one line`, async () => {
      const { code, stderr } = await run(
        TCP_SERVER_CLI,
        [...args, '--authkey', 'k', '--port', String(0)].slice(0),
      );
      expect(code, stderr).toBe(2);
      expect(stderr).toMatch(pattern);
      expect(stderr).not.toMatch(/^\s+at /m);
    });
  }

  it('--authkey serves, and a worker with that key gets in', async () => {
    const port = await freePort();
    const server = track(start(TCP_SERVER_CLI, ['--port', String(port), '--authkey', 'abc']));
    await waitFor(() => /listening/.test(server.stdout()), 10_000, 'the server to listen');
    const worker = await run(WORKER_CLI, [
      '--url',
      `tcp://127.0.0.1:${port}`,
      '--authkey',
      'abc',
      '--idle-exit',
      '0.5',
    ]);
    expect(worker.code, worker.stderr).toBe(0);
    expect(server.stderr()).not.toMatch(/^\s+at /m);
  });
});

describe('CLI messages', () => {
  it('the worker’s missing-key message names flags, not API options', async () => {
    const { code, stderr } = await run(WORKER_CLI, ['--url', `tcp://127.0.0.1:${await freePort()}`]);
    expect(code).toBe(2);
    expectOneLineError(stderr, /--authkey/);
    expect(stderr).not.toMatch(/\{ authkey/);
  });

  it('a worker whose master finished reports the lost connection once', async () => {
    const port = await freePort();
    const master = track(start(MASTER_CLI, ['--port', String(port), '--authkey', 'k', '--tasks', '20']));
    await waitFor(() => /serving/.test(master.stderr()), 10_000, 'the master to listen');
    const worker = track(start(WORKER_CLI, ['--url', `tcp://127.0.0.1:${port}`, '--authkey', 'k']));
    expect((await exitWithin(master, 20_000, 'the master')).code, master.stderr()).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const lost = worker.stderr().match(/lost/g) ?? [];
    expect(lost.length, worker.stderr()).toBeLessThanOrEqual(1);
  });
});

describe('the README works as written', () => {
  it('each CLI’s bin is a committed file that exists before any build', () => {
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    for (const pkg of ['apps/master', 'apps/worker', 'packages/transport-tcp']) {
      const { bin } = JSON.parse(readFileSync(join(root, pkg, 'package.json'), 'utf8')) as {
        bin: Record<string, string>;
      };
      for (const target of Object.values(bin)) {
        expect(target, `${pkg} bin`).not.toMatch(/dist\//);
        expect(existsSync(join(root, pkg, target))).toBe(true);
      }
    }
    const tracked = execFileSync(
      'git',
      ['ls-files', 'apps/master/bin', 'apps/worker/bin', 'packages/transport-tcp/bin'],
      {
        cwd: root,
        encoding: 'utf8',
      },
    );
    expect(tracked.split('\n').filter(Boolean)).toHaveLength(3);
  });

  it('pnpm exec taskwire-master runs from the repository root', () => {
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    const out = execFileSync('pnpm', ['exec', 'taskwire-master', '--version'], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(out.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe('an app never imports another app', () => {
  it('no source file of the CLIs imports taskwire-master or taskwire-worker (the master only runs the worker command)', () => {
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    const importsAnApp = /(from\s+|import\(\s*)['"]taskwire-(master|worker)['"/]/;
    for (const app of ['apps/master', 'apps/worker']) {
      const sources = readdirSync(join(root, app, 'src')).filter((file) => file.endsWith('.ts'));
      expect(sources.length).toBeGreaterThan(0);
      for (const file of sources) {
        expect(readFileSync(join(root, app, 'src', file), 'utf8'), `${app}/src/${file}`).not.toMatch(
          importsAnApp,
        );
      }
    }
  });
});

describe('a flag commander refuses is bad input', () => {
  for (const [cli, args] of [
    [MASTER_CLI, ['--port', 'abc']],
    [MASTER_CLI, ['--port', '70000']],
    [WORKER_CLI, ['--bogus']],
    [WORKER_CLI, ['--concurrency', '0']],
  ] as const) {
    it(`${cli === MASTER_CLI ? 'taskwire-master' : 'taskwire-worker'} ${args.join(' ')}: exit 2`, async () => {
      const { code, stderr } = await run(cli, [...args]);
      expect(code, stderr).toBe(2);
      expect(stderr).not.toMatch(/^\s+at /m);
    });
  }
});
