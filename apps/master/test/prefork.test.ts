import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { workersRequested } from '../dist/local-workers.js';
import { exitWithin, freePort, killAfterEach, MASTER_CLI, start, waitFor } from './helpers.js';

const HOOK = fileURLToPath(new URL('./fixtures/children-at-commander.mjs', import.meta.url));
const track = killAfterEach();

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Run the master with the hook preloaded; resolves with its exit, its stderr once every process
 * writing to it (its workers too) has closed it, and the workers it had forked when it first
 * resolved commander.
 */
async function runHooked(args: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'taskwire-prefork-'));
  const log = join(dir, 'children.log');
  try {
    const master = track(start(MASTER_CLI, args, { NODE_OPTIONS: `--import ${HOOK}`, CHILDREN_LOG: log }));
    const stderrClosed = new Promise((resolve) => master.child.stderr!.once('close', resolve));
    const { code } = await exitWithin(master, 30_000, 'the master');
    const entries = readFileSync(log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { pid: number; children: number[] });
    const atCommander = entries.find((entry) => entry.pid === master.child.pid);
    await waitFor(
      () => (atCommander?.children ?? []).every((pid) => !isAlive(pid)),
      10_000,
      'the workers to exit',
    );
    await Promise.race([stderrClosed, new Promise((resolve) => setTimeout(resolve, 10_000))]);
    return { code, stderr: master.stderr(), forkedFirst: atCommander?.children };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('local workers forked ahead', () => {
  it('are forked before the master loads its own modules, and run the job', async () => {
    const { code, stderr, forkedFirst } = await runHooked([
      '--workers',
      '2',
      '--port',
      String(await freePort()),
      '--tasks',
      '20',
      '--no-progress',
    ]);
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(/done 20, failed 0/);
    expect(forkedFirst).toHaveLength(2);
  }, 60_000);

  it('a master that fails a check before its first task ends them quietly: exit 2, one line', async () => {
    const { code, stderr, forkedFirst } = await runHooked([
      '--workers',
      '2',
      '--port',
      String(await freePort()),
      '--output',
      '/no/such/dir/out.jsonl',
    ]);
    expect(code).toBe(2);
    expect(forkedFirst).toHaveLength(2);
    expect(stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^taskwire-master: error: cannot write \/no\/such\/dir\/out\.jsonl: ENOENT/),
    ]);
  }, 60_000);

  it('none for memory://, whose workers run in the master', async () => {
    const { code, stderr, forkedFirst } = await runHooked([
      '--transport',
      'memory',
      '--workers',
      '2',
      '--tasks',
      '5',
    ]);
    expect(code, stderr).toBe(0);
    expect(forkedFirst).toEqual([]);
  }, 60_000);
});

describe('workersRequested (the --workers count read before commander parses)', () => {
  it.each([
    [['--workers', '3'], 3],
    [['--workers=4', '--tasks', '9'], 4],
    [['--tasks', '9'], 0],
    [['--workers', 'two'], 0],
    [['--workers', '2', '--help'], 0],
    [['--version', '--workers', '2'], 0],
    [['--workers', '2', '--transport', 'memory'], 0],
    [['--url=memory://', '--workers', '2'], 0],
    [['--', '--workers', '2'], 0],
    [['--workers', '1000'], 64],
  ] as const)('%j → %i', (argv, expected) => {
    expect(workersRequested(argv)).toBe(expected);
  });
});
