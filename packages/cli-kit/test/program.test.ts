import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { integer, seconds } from '../dist/index.js';

const CLI = fileURLToPath(new URL('./fixtures/program.mjs', import.meta.url));

/** Run the fixture CLI to its end (bounded by a 10 s timeout). */
function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI, ...args], { timeout: 10_000 }, (_error, stdout, stderr) =>
      resolve({ code: child.exitCode, stdout, stderr }),
    );
  });
}

describe('createProgram and runProgram', () => {
  it('--version prints the version of the given package.json', async () => {
    const { code, stdout } = await run(['--version']);
    expect(code).toBe(0);
    expect(stdout.trim()).toBe('1.2.3');
  });

  it('a flag commander refuses exits 2 with the usage hint', async () => {
    const unknown = await run(['--bogus']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown option '--bogus'/);
    expect(unknown.stderr).toMatch(/\(run with --help for usage\)/);
    const badValue = await run(['--exit', '300']);
    expect(badValue.code).toBe(2);
    expect(badValue.stderr).toMatch(/must be an integer from 0 to 255/);
  });

  it('the number main resolves with is the exit code', async () => {
    expect((await run(['--exit', '0'])).code).toBe(0);
    expect((await run(['--exit', '7'])).code).toBe(7);
  });

  it('a ConfigError is one line, secrets redacted, exit 2', async () => {
    const { code, stderr } = await run(['--fail', 'config']);
    expect(code).toBe(2);
    expect(stderr).toBe('kit-test: error: cannot reach redis://me:***@host:1\n');
  });

  it('any other error is one line, exit 1', async () => {
    const { code, stderr } = await run(['--fail', 'plain']);
    expect(code).toBe(1);
    expect(stderr).toBe('kit-test: error: boom\n');
  });

  it('main resolving with undefined keeps the process running (a server)', async () => {
    const child = spawn(process.execPath, [CLI], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no "serving" within 10 s')), 10_000);
        child.stdout.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes('serving')) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      // Still alive a moment later: runProgram did not exit.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(child.exitCode).toBeNull();
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('argument parsers', () => {
  it('integer(min) and integer(min, max)', () => {
    expect(integer(1)('8')).toBe(8);
    expect(() => integer(1)('0')).toThrow(new InvalidArgumentError('must be an integer ≥ 1'));
    expect(() => integer(1)(' ')).toThrow(InvalidArgumentError);
    expect(() => integer(1)('1.5')).toThrow(InvalidArgumentError);
    expect(integer(0, 65535)('0')).toBe(0);
    expect(() => integer(0, 65535)('70000')).toThrow(
      new InvalidArgumentError('must be an integer from 0 to 65535'),
    );
  });

  it('seconds', () => {
    expect(seconds('0.5')).toBe(0.5);
    expect(seconds('0')).toBe(0);
    expect(() => seconds('-1')).toThrow(new InvalidArgumentError('must be a number of seconds ≥ 0'));
    expect(() => seconds('soon')).toThrow(InvalidArgumentError);
  });
});
