import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';

export const MASTER_CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
export const WORKER_CLI = fileURLToPath(new URL('../../worker/dist/cli.js', import.meta.url));
export const FLAKY_HANDLER = fileURLToPath(new URL('./fixtures/flaky-square.mjs', import.meta.url));
/** The built example third-party transport (examples/custom-transport), loaded by file path. */
export const CUSTOM_TRANSPORT = fileURLToPath(
  new URL('../../../examples/custom-transport/dist/index.js', import.meta.url),
);

/** A started CLI process with its output collected. */
export interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Start `node <cli> ...args` with a clean TASKWIRE_* environment plus `env`. */
export function start(cli: string, args: string[], env: NodeJS.ProcessEnv = {}): Running {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith('TASKWIRE_')),
  );
  const child = spawn(process.execPath, [cli, ...args], {
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return { child, stdout: () => out, stderr: () => err, exit };
}

/**
 * Processes a test file starts: pass each to the returned function, and every one still alive is SIGKILLed after
 * each test, so a failing test leaves no process behind.
 */
export function killAfterEach(): (process: Running) => Running {
  const running: Running[] = [];
  afterEach(() => {
    for (const process of running.splice(0)) process.child.kill('SIGKILL');
  });
  return (process) => {
    running.push(process);
    return process;
  };
}

/** Run a CLI to completion (killed after `timeoutMs`). */
export async function run(cli: string, args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 30_000) {
  const running = start(cli, args, env);
  const timer = setTimeout(() => running.child.kill('SIGKILL'), timeoutMs);
  const { code } = await running.exit;
  clearTimeout(timer);
  return { code, stdout: running.stdout(), stderr: running.stderr() };
}

/** Wait for `running` to exit, killing it (SIGKILL) and failing after `timeoutMs`. */
export async function exitWithin(running: Running, timeoutMs: number, what: string) {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      running.child.kill('SIGKILL');
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} to exit`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([running.exit, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Poll `condition` every 20 ms until true, failing after `timeoutMs`. */
export async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A temp dir with an input file of `count` integers (1..count), one per line. */
export function inputFile(
  count: number,
  extraLines: string[] = [],
): { dir: string; input: string; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'taskwire-e2e-'));
  const input = join(dir, 'input.jsonl');
  const lines = Array.from({ length: count }, (_, i) => String(i + 1));
  lines.splice(10, 0, ...extraLines);
  writeFileSync(input, `${lines.join('\n')}\n`);
  return { dir, input, output: join(dir, 'output.jsonl') };
}

/** Parse the master's `--output` file. */
export function readResults(
  path: string,
): { input: number; ok: boolean; value?: number; error?: { name: string; message: string } }[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

/** A unique name for this run's queues/keys. */
export const uniqueName = (label: string, prefix = 'tw-e2e') =>
  `${prefix}-${label}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
