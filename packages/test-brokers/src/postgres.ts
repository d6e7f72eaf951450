import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './free-port.js';

const run = promisify(execFile);

/** A PostgreSQL server of the caller's own on a free loopback port (never the shared one). */
export interface PrivatePostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust authentication). */
  readonly url: string;
  /** The loopback port it listens on. */
  readonly port: number;
  /** Stop it without a checkpoint (`pg_ctl stop -m immediate`, as a crash does) and start it again. */
  restart(): Promise<void>;
  /** Stop it without a checkpoint; {@link start} brings it back with crash recovery. */
  kill(): Promise<void>;
  /** Start it again after {@link kill}; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stop it and remove its data directory. */
  stop(): Promise<void>;
}

/** Where the server's programs live: `TASKWIRE_PG_BIN`, else the newest /usr/lib/postgresql/<version>/bin. */
function binDir(): string {
  if (process.env.TASKWIRE_PG_BIN) return process.env.TASKWIRE_PG_BIN;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((name) => /^\d+$/.test(name))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0)
    throw new Error(`no PostgreSQL server programs under ${root} (set TASKWIRE_PG_BIN)`);
  return join(root, versions[0]!, 'bin');
}

/** PostgreSQL refuses to run as root: run its programs as the `postgres` user then. */
async function asPostgres(program: string, args: string[]): Promise<void> {
  const root = process.getuid?.() === 0;
  const [file, argv] = root ? ['runuser', ['-u', 'postgres', '--', program, ...args]] : [program, args];
  await run(file, argv, { timeout: 60_000 });
}

/**
 * Start a private PostgreSQL: `initdb` into a temporary directory (trust authentication, fsync on) and `pg_ctl` on
 * a free loopback port, its socket in that directory. As root, the directory is handed to the `postgres` user.
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = binDir();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'taskwire-postgres-private-'));
  const data = join(dir, 'data');
  if (process.getuid?.() === 0) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: group } = await run('id', ['-g', 'postgres']);
    chownSync(dir, Number(stdout.trim()), Number(group.trim()));
  }
  await asPostgres(join(bin, 'initdb'), [
    '-D',
    data,
    '-A',
    'trust',
    '-U',
    'postgres',
    '--no-sync',
    '-E',
    'UTF8',
  ]);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200`;
  const start = () =>
    asPostgres(join(bin, 'pg_ctl'), [
      'start',
      '-w',
      '-t',
      '60',
      '-D',
      data,
      '-l',
      join(dir, 'log'),
      '-o',
      options,
    ]);
  const kill = async () => {
    await asPostgres(join(bin, 'pg_ctl'), ['stop', '-m', 'immediate', '-w', '-D', data]).catch(
      () => undefined,
    );
  };
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    restart: async () => {
      await kill();
      await start();
    },
    kill,
    start,
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
