import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { HANDOFF_ENV, sendHandoff } from '../dist/handoff.js';

const CLI = fileURLToPath(new URL('./fixtures/handoff.mjs', import.meta.url));

/** Fork the fixture with `args` on its command line and `env` added; output collected. */
function forkFixture(args: string[], env: NodeJS.ProcessEnv) {
  const child = fork(CLI, args, {
    env: { ...process.env, HANDOFF_SECRET: undefined, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exit = new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('the fixture did not exit within 20 s'));
    }, 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
  return { child, exit, stdout: () => stdout, stderr: () => stderr };
}

/** The fixture's process exists (it may still be loading: what is sent waits in the channel). */
function spawned(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => child.once('spawn', () => resolve()));
}

describe('sendHandoff / receiveHandoff', () => {
  it('a process forked to wait parses the arguments and environment its parent sends', async () => {
    const fixture = forkFixture(['--say', 'argv'], { [HANDOFF_ENV]: '1' });
    await spawned(fixture.child);
    sendHandoff(fixture.child, { args: ['--say', 'handed'], env: { HANDOFF_SECRET: 's3cret' } });
    expect(await fixture.exit, fixture.stderr()).toBe(0);
    // Its own argv is ignored; the marker is not left for processes it would start.
    expect(JSON.parse(fixture.stdout())).toEqual({ say: 'handed', secret: 's3cret', marker: null });
  });

  it('without the marker the command line is used and nothing is awaited', async () => {
    const fixture = forkFixture(['--say', 'argv'], {});
    expect(await fixture.exit, fixture.stderr()).toBe(0);
    expect(JSON.parse(fixture.stdout())).toEqual({ say: 'argv', secret: null, marker: null });
  });

  it('a waiting process whose parent goes away first exits 1 without a word', async () => {
    const fixture = forkFixture([], { [HANDOFF_ENV]: '1' });
    await spawned(fixture.child);
    fixture.child.disconnect();
    expect(await fixture.exit).toBe(1);
    expect(fixture.stdout()).toBe('');
    expect(fixture.stderr()).toBe('');
  });

  it('sending to a process that has already exited is not an error', async () => {
    const fixture = forkFixture(['--say', 'argv'], {});
    await fixture.exit;
    expect(() => sendHandoff(fixture.child, { args: [], env: {} })).not.toThrow();
  });
});
