import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  exitWithin,
  killAfterEach,
  MASTER_CLI,
  run,
  start,
  uniqueName,
  WORKER_CLI,
  waitFor,
} from './helpers.js';

const TCP_SERVER_CLI = fileURLToPath(
  new URL('../../../packages/transport-tcp/bin/taskwire-tcp-server.js', import.meta.url),
);
const track = killAfterEach();

interface LogLine {
  level: string;
  time: string;
  name: string;
  pid: number;
  msg: string;
  [field: string]: unknown;
}

/** Every stderr line, parsed: each must be one JSON object. */
function jsonLines(stderr: string): LogLine[] {
  return stderr
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      try {
        return JSON.parse(line) as LogLine;
      } catch {
        throw new Error(`not a JSON log line: ${line}`);
      }
    });
}

describe('--log-format json and --log-level', () => {
  it('taskwire-master and the taskwire-worker processes it starts write JSON lines with level, msg and fields', async () => {
    const { code, stdout, stderr } = await run(MASTER_CLI, [
      '--workers',
      '1',
      '--tasks',
      '5',
      '--port',
      '0',
      '--queue',
      uniqueName('log'),
      '--log-format',
      'json',
      '--log-level',
      'debug',
    ]);
    expect(code, stderr).toBe(0);
    // Results stay on stdout, as text.
    expect(stdout).toMatch(/^result \d+ \* \d+ = \d+$/m);
    const lines = jsonLines(stderr);
    const master = lines.filter((line) => line.name === 'taskwire-master');
    const serving = master.find((line) => line.msg.startsWith('serving '));
    expect(serving).toMatchObject({
      level: 'info',
      url: expect.stringMatching(/^tcp:\/\/127\.0\.0\.1:\d+$/),
    });
    const summary = master.find((line) => line.msg.startsWith('done '));
    expect(summary).toMatchObject({ level: 'info', done: 5, failed: 0, badInputLines: 0 });
    expect(Number.isNaN(Date.parse(summary!.time))).toBe(false);
    // The local worker got the format and level: its debug line is JSON too.
    const worker = lines.find((line) => line.name === 'taskwire-worker');
    expect(worker).toMatchObject({ level: 'debug', msg: expect.stringMatching(/^taking tasks from /) });
    expect(worker!.pid).not.toBe(summary!.pid);
  });

  it('--log-level filters by level, in either format', async () => {
    const args = ['--transport', 'memory', '--workers', '1', '--tasks', '3'];
    const text = await run(MASTER_CLI, args);
    expect(text.stderr).toMatch(/^taskwire-master: done 3, failed 0, elapsed/m);
    const textWarn = await run(MASTER_CLI, [...args, '--log-level', 'warn']);
    expect(textWarn.code).toBe(0);
    expect(textWarn.stderr).toBe('');
    const jsonWarn = await run(MASTER_CLI, [...args, '--log-format', 'json', '--log-level', 'warn']);
    expect(jsonWarn.code).toBe(0);
    expect(jsonWarn.stderr).toBe('');
    // A warning still shows at warn: a bad input line.
    const { input } = (() => {
      const dir = mkdtempSync(join(tmpdir(), 'taskwire-log-'));
      const file = join(dir, 'input.jsonl');
      writeFileSync(file, '1\nnot json\n2\n');
      return { input: file };
    })();
    const badInput = await run(MASTER_CLI, [
      '--transport',
      'memory',
      '--workers',
      '1',
      '--input',
      input,
      '--log-format',
      'json',
      '--log-level',
      'warn',
    ]);
    expect(jsonLines(badInput.stderr)).toEqual([
      expect.objectContaining({
        level: 'warn',
        line: 2,
        msg: expect.stringMatching(/^input line 2: not valid JSON/),
      }),
    ]);
  });

  it('flag beats TASKWIRE_LOG_FORMAT beats the config file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'taskwire-log-'));
    const config = join(dir, 'taskwire.config.json');
    writeFileSync(config, JSON.stringify({ transport: 'memory', logFormat: 'json', logLevel: 'info' }));
    const args = ['--config', config, '--workers', '1', '--tasks', '2'];
    const fromFile = await run(MASTER_CLI, args);
    expect(jsonLines(fromFile.stderr).at(-1)).toMatchObject({ level: 'info', done: 2 });
    const fromEnv = await run(MASTER_CLI, args, { TASKWIRE_LOG_FORMAT: 'text' });
    expect(fromEnv.stderr).toMatch(/^taskwire-master: done 2/m);
    const fromFlag = await run(MASTER_CLI, [...args, '--log-format', 'json'], {
      TASKWIRE_LOG_FORMAT: 'text',
    });
    expect(jsonLines(fromFlag.stderr).at(-1)).toMatchObject({ done: 2 });
    const badLevel = await run(MASTER_CLI, args, { TASKWIRE_LOG_LEVEL: 'loud' });
    expect(badLevel.code).toBe(2);
    expect(badLevel.stderr).toMatch(/^taskwire-master: error: the log level must be one of trace, debug/);
  });

  it('taskwire-worker: its fatal error is one JSON line with its code; debug lines only at debug', async () => {
    const failed = await run(WORKER_CLI, [
      '--handler',
      'cube',
      '--transport',
      'memory',
      '--log-format',
      'json',
    ]);
    expect(failed.code).toBe(2);
    expect(jsonLines(failed.stderr)).toEqual([
      expect.objectContaining({
        level: 'fatal',
        name: 'taskwire-worker',
        code: 'TASKWIRE_CONFIG',
        msg: expect.stringMatching(/^unknown handler "cube"/),
      }),
    ]);
    const args = ['--transport', 'memory', '--idle-exit', '0.1', '--queue', 'logged', '--log-format', 'json'];
    const debug = await run(WORKER_CLI, [...args, '--log-level', 'debug']);
    expect(debug.code, debug.stderr).toBe(0);
    expect(jsonLines(debug.stderr)).toEqual([
      expect.objectContaining({ level: 'debug', queue: 'logged', msg: 'taking tasks from logged' }),
    ]);
    const info = await run(WORKER_CLI, args);
    expect(info.code, info.stderr).toBe(0);
    expect(info.stderr).toBe('');
  });

  it('taskwire-tcp-server: the address stays on stdout; JSON lines on stderr for it and for a refused client', async () => {
    const server = track(
      start(TCP_SERVER_CLI, ['--port', '0', '--authkey', 'log-key', '--log-format', 'json']),
    );
    await waitFor(() => /listening on tcp:\/\/127\.0\.0\.1:\d+/.test(server.stdout()), 10_000, 'the server');
    const url = /tcp:\/\/127\.0\.0\.1:(\d+)/.exec(server.stdout())!;
    await waitFor(() => server.stderr().includes('\n'), 5000, 'the listening log line');
    expect(jsonLines(server.stderr())[0]).toMatchObject({
      level: 'info',
      name: 'taskwire-tcp-server',
      url: url[0],
      msg: `listening on ${url[0]}`,
    });
    // A client that sends a frame longer than any allowed is closed, and that is logged at warn.
    const socket = netConnect(Number(url[1]), '127.0.0.1');
    socket.on('error', () => undefined);
    socket.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
    await waitFor(() => jsonLines(server.stderr()).length > 1, 5000, 'the refused client to be logged');
    socket.destroy();
    expect(jsonLines(server.stderr())[1]).toMatchObject({
      level: 'warn',
      msg: expect.stringMatching(/^closed /),
    });
    server.child.kill('SIGTERM');
    await exitWithin(server, 5000, 'the server');

    const quiet = track(
      start(TCP_SERVER_CLI, [
        '--port',
        '0',
        '--authkey',
        'log-key',
        '--log-format',
        'json',
        '--log-level',
        'warn',
      ]),
    );
    await waitFor(() => /listening on/.test(quiet.stdout()), 10_000, 'the quiet server');
    quiet.child.kill('SIGTERM');
    await exitWithin(quiet, 5000, 'the quiet server');
    expect(quiet.stderr()).toBe('');
  });
});
