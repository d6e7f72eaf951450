import {
  ConfigError,
  type Connection,
  redactUrl,
  resolveTransport,
  TaskwireError,
  type TaskwireSettings,
  type Transport,
} from '@taskwire/core';
import { readAuthkey } from './settings.js';

/** Imports a module specifier; see {@link loadTransport}. */
export type ImportModule = (specifier: string) => Promise<unknown>;

/**
 * Resolve the settings' transport (a name, a URL, a package name or a file path). Packages are
 * imported through `importModule`, which the CLI passes as `(s) => import(s)`: a transport
 * package is a dependency of the CLI (or installed next to it), not of this kit, so it must be
 * resolved from the CLI's own module.
 */
export function loadTransport(settings: TaskwireSettings, importModule: ImportModule): Promise<Transport> {
  return resolveTransport(settings.transport, { importModule });
}

/** Connect with the settings; any failure becomes a one-line ConfigError naming the (redacted) URL. */
export async function connect(
  transport: Transport,
  settings: TaskwireSettings,
  tls?: { ca: Buffer },
): Promise<Connection> {
  const url = settings.url;
  const authkey = await readAuthkey(settings);
  if (authkey === undefined && (transport.name === 'tcp' || /^tcps?:\/\//i.test(url ?? ''))) {
    throw new ConfigError(
      'the TCP manager needs an authkey: pass --authkey, --authkey-file or set TASKWIRE_AUTHKEY',
    );
  }
  try {
    return await transport.connect({
      url,
      ...(authkey !== undefined ? { authkey } : {}),
      ...(tls ? { tls } : {}),
    });
  } catch (error) {
    if (TaskwireError.isInstance(error)) throw error;
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new ConfigError(`cannot reach ${transport.name} at ${redactUrl(url ?? '(default)')}: ${reason}`, {
      cause: error,
    });
  }
}
