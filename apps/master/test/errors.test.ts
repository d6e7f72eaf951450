import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  freePort,
  inputFile,
  MASTER_CLI,
  type Running,
  readResults,
  run,
  start,
  WORKER_CLI,
  waitFor,
} from './helpers.js';

const running: Running[] = [];
afterEach(() => {
  for (const process of running.splice(0)) process.child.kill('SIGKILL');
});

/** One line on stderr, no stack trace. */
function expectOneLineError(stderr: string, pattern: RegExp) {
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(stderr).not.toMatch(/^\s+at /m);
}

describe('CLI errors are one line and non-zero', () => {
  it('unknown transport', async () => {
    const { code, stderr } = await run(WORKER_CLI, ['--transport', 'kafka']);
    expect(code).toBe(2);
    expectOneLineError(stderr, /unknown transport "kafka"; known transports: memory, tcp, redis, rabbitmq/);
  });

  it('malformed URL', async () => {
    const { code, stderr } = await run(MASTER_CLI, ['--url', 'redis//localhost']);
    expect(code).toBe(2);
    expectOneLineError(stderr, /malformed URL "redis\/\/localhost"/);
  });

  it('unreachable broker, with the password redacted', async () => {
    const { code, stderr } = await run(WORKER_CLI, ['--url', 'redis://me:hunter2@127.0.0.1:1/0']);
    expect(code).not.toBe(0);
    expectOneLineError(stderr, /redis:\/\/me:\*\*\*@127\.0\.0\.1:1/);
    expect(stderr).not.toContain('hunter2');
  });

  it('unreachable TCP manager', async () => {
    const port = await freePort();
    const { code, stderr } = await run(WORKER_CLI, ['--url', `tcp://127.0.0.1:${port}`, '--authkey', 'k']);
    expect(code).not.toBe(0);
    expectOneLineError(stderr, new RegExp(`tcp://127\\.0\\.0\\.1:${port}`));
  });

  it('wrong authkey', async () => {
    const port = await freePort();
    const master = start(MASTER_CLI, ['--port', String(port), '--authkey', 'right-key', '--tasks', '5']);
    running.push(master);
    await waitFor(() => /serving/.test(master.stderr()), 10_000, 'the master to listen');
    const { code, stderr } = await run(WORKER_CLI, [
      '--url',
      `tcp://127.0.0.1:${port}`,
      '--authkey',
      'wrong-key',
    ]);
    expect(code).toBe(2);
    expectOneLineError(stderr, /authkey rejected by tcp:\/\/127\.0\.0\.1/);
    expect(stderr).not.toContain('wrong-key');
  });

  it('the TCP manager without an authkey and without local workers', async () => {
    const { code, stderr } = await run(MASTER_CLI, ['--port', String(await freePort())]);
    expect(code).toBe(2);
    expectOneLineError(stderr, /needs an authkey/);
  });

  it('unknown handler', async () => {
    const { code, stderr } = await run(WORKER_CLI, ['--handler', 'cube', '--transport', 'memory']);
    expect(code).toBe(2);
    expectOneLineError(stderr, /unknown handler "cube"/);
  });

  it('a malformed config file', async () => {
    const { dir } = inputFile(0);
    const config = join(dir, 'taskwire.config.json');
    writeFileSync(config, '{ "transport": ');
    const { code, stderr } = await run(WORKER_CLI, ['--config', config]);
    expect(code).toBe(2);
    expectOneLineError(stderr, /is not valid JSON/);
  });

  it('a non-JSON input line is reported with its line number and the rest of the job goes on', async () => {
    const { input, output } = inputFile(50, ['{not json']);
    const { code, stdout, stderr } = await run(MASTER_CLI, [
      '--workers',
      '1',
      '--port',
      String(await freePort()),
      '--input',
      input,
      '--output',
      output,
    ]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/input line 11: not valid JSON/);
    expect(stderr).toMatch(/done 50, failed 1 \(1 bad input lines\)/);
    expect(stdout).toBe('');
    const results = readResults(output);
    expect(results).toHaveLength(50);
    expect(results.every((r) => r.ok && r.value === r.input * r.input)).toBe(true);
  });
});

describe('configuration precedence', () => {
  it('flag > environment > config file', async () => {
    const { dir } = inputFile(0);
    const config = join(dir, 'taskwire.config.json');
    writeFileSync(config, JSON.stringify({ transport: 'from-config-file' }));
    const fromFile = await run(WORKER_CLI, ['--config', config]);
    expect(fromFile.stderr).toMatch(/unknown transport "from-config-file"/);
    const fromEnv = await run(WORKER_CLI, ['--config', config], { TASKWIRE_TRANSPORT: 'from-env' });
    expect(fromEnv.stderr).toMatch(/unknown transport "from-env"/);
    const fromFlag = await run(WORKER_CLI, ['--config', config, '--transport', 'from-flag'], {
      TASKWIRE_TRANSPORT: 'from-env',
    });
    expect(fromFlag.stderr).toMatch(/unknown transport "from-flag"/);
  });

  it('--version and --help', async () => {
    const version = await run(MASTER_CLI, ['--version']);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const help = await run(WORKER_CLI, ['--help']);
    expect(help.code).toBe(0);
    for (const flag of [
      '--transport',
      '--url',
      '--authkey',
      '--queue',
      '--handler',
      '--concurrency',
      '--idle-exit',
    ]) {
      expect(help.stdout).toContain(flag);
    }
  });
});

describe('the demo', () => {
  it('runs the seed job with local workers on the embedded TCP manager and prints seed-style lines', async () => {
    const { code, stdout, stderr } = await run(MASTER_CLI, [
      '--workers',
      '2',
      '--tasks',
      '10',
      '--port',
      String(await freePort()),
    ]);
    expect(code, stderr).toBe(0);
    const puts = stdout.match(/^put task \d+$/gm) ?? [];
    const results = [...stdout.matchAll(/^result (\d+) \* (\d+) = (\d+)$/gm)];
    expect(puts).toHaveLength(10);
    expect(results).toHaveLength(10);
    for (const [, a, b, square] of results) {
      expect(a).toBe(b);
      expect(Number(square)).toBe(Number(a) ** 2);
    }
    expect(stderr).toMatch(/done 10, failed 0, elapsed [\d.]+s, \d+ tasks\/s/);
  });

  it('--idle-exit makes a worker exit 0 when no task comes for that long', async () => {
    const started = Date.now();
    const { code, stderr } = await run(WORKER_CLI, ['--transport', 'memory', '--idle-exit', '0.3']);
    expect(code, stderr).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
