import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ADMIN_CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
export const MASTER_CLI = fileURLToPath(new URL('../../master/dist/cli.js', import.meta.url));
export const WORKER_CLI = fileURLToPath(new URL('../../worker/dist/cli.js', import.meta.url));
/** A transport (memory, in the CLI's own process) whose inspection capabilities are off. */
export const NO_INSPECTION_TRANSPORT = fileURLToPath(
  new URL('./fixtures/no-inspection.mjs', import.meta.url),
);

/**
 * Run `taskwire ...args` to completion with a clean TASKWIRE_* environment: SIGINT once its output satisfies
 * `interruptWhen`, SIGKILL after `timeoutMs`.
 */
export function runAdmin(
  args: string[],
  options: {
    env?: NodeJS.ProcessEnv;
    input?: string;
    timeoutMs?: number;
    interruptWhen?: (stdout: string) => boolean;
  } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith('TASKWIRE_')),
  );
  const child = spawn(process.execPath, [ADMIN_CLI, ...args], {
    env: { ...base, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (options.interruptWhen?.(stdout)) child.kill('SIGINT');
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdin.end(options.input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
  return new Promise((resolve) => {
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Poll `condition` every 50 ms until it resolves true, failing after `timeoutMs`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Run `taskwire ...args` on a pseudo-terminal (util-linux `script`), typing `input`: how a person answers a
 * confirmation. The arguments must not need shell quoting.
 */
export function runAdminOnTerminal(
  args: string[],
  input: string,
): Promise<{ code: number | null; output: string }> {
  const command = [process.execPath, ADMIN_CLI, ...args].join(' ');
  const child = spawn('script', ['-qec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stdin.end(input);
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  return new Promise((resolve) => {
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}
