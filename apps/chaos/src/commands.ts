import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

/** The entry point of a workspace CLI package's `bin`, from its package.json. */
function binOf(pkg: string): string {
  const manifestPath = require.resolve(`${pkg}/package.json`);
  const manifest = require(manifestPath) as { bin: Record<string, string> };
  return join(dirname(manifestPath), Object.values(manifest.bin)[0]!);
}

/** The real `taskwire-master` command (apps/master). */
export const MASTER_BIN = binOf('taskwire-master');

/** The real `taskwire-worker` command (apps/worker). */
export const WORKER_BIN = binOf('taskwire-worker');

/** The chaos handler module, passed to the workers as `--handler <path>`. */
export const HANDLER_PATH = fileURLToPath(new URL('./handler.js', import.meta.url));

/**
 * The SQLite example transport as a file path: a path is loaded by the CLIs themselves, which do not
 * depend on the example package.
 */
export const SQLITE_TRANSPORT_PATH = require.resolve('taskwire-transport-sqlite');
