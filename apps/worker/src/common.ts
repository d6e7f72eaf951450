import { readFile } from 'node:fs/promises';
import {
  ConfigError,
  type Connection,
  findTransport,
  knownTransports,
  redactUrl,
  resolveSettings,
  resolveTransport,
  TaskwireError,
  type TaskwireSettings,
  type Transport,
} from '@taskwire/core';
import { type Command, Option } from 'commander';

/** Flags every taskwire CLI shares. */
export interface CommonFlags {
  transport?: string;
  url?: string;
  authkey?: string;
  authkeyFile?: string;
  tlsCa?: string;
  queue?: string;
  config?: string;
}

/** Add the shared flags (transport, url, authkey, queue, config) to a commander program. */
export function addCommonOptions(program: Command): Command {
  return (
    program
      // A flag commander refuses (unknown, or a bad value) is bad input: exit 2, like a ConfigError.
      .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2))
      .addOption(
        new Option(
          '--transport <spec>',
          'tcp (default), memory, redis, rabbitmq, a URL whose scheme names one, or a package / file exporting a transport',
        ),
      )
      .option('--url <url>', `backend address (defaults: ${defaultUrls().join(', ')})`)
      .option('--authkey <key>', 'TCP manager shared secret (or TASKWIRE_AUTHKEY)')
      .option('--authkey-file <path>', 'file holding the authkey')
      .option('--tls-ca <file>', 'tcps://: trust this CA (or self-signed) certificate (or TASKWIRE_TLS_CA)')
      .option('--queue <name>', 'task queue name (default: tasks)')
      .option('--config <path>', 'JSON config file (default: ./taskwire.config.json if present)')
  );
}

/** The default URL of every registered transport, for the help. */
function defaultUrls(): string[] {
  return knownTransports().flatMap((name) => findTransport(name)?.defaultUrl ?? []);
}

/** Settings from flags > environment > config file > defaults. */
export async function settingsFrom(flags: CommonFlags): Promise<TaskwireSettings> {
  const { settings } = await resolveSettings({
    flags: {
      transport: flags.transport,
      url: flags.url,
      authkey: flags.authkey,
      authkeyFile: flags.authkeyFile,
      queue: flags.queue,
    },
    env: process.env,
    configFile: flags.config,
  });
  return settings;
}

/** Resolve the transport, importing packages from this application's dependencies. */
export function loadTransport(settings: TaskwireSettings): Promise<Transport> {
  return resolveTransport(settings.transport, { importModule: (specifier) => import(specifier) });
}

/** TLS options for a `tcps://` client: the CA from `--tls-ca` or `TASKWIRE_TLS_CA`, if any. */
export async function tlsClientOptions(flags: CommonFlags): Promise<{ ca: Buffer } | undefined> {
  const path = flags.tlsCa ?? process.env.TASKWIRE_TLS_CA;
  if (!path) return undefined;
  try {
    return { ca: await readFile(path) };
  } catch (error) {
    throw new ConfigError(`cannot read the TLS CA file ${path}: ${(error as NodeJS.ErrnoException).code}`);
  }
}

/**
 * The authkey of the settings (`authkey`, or the contents of `authkeyFile` without its trailing
 * newline). Read here, not by the transport, so the key from the strongest source is the one
 * used: a transport would let TASKWIRE_AUTHKEY beat an `authkeyFile` option.
 */
export async function readAuthkey(settings: {
  authkey?: string | undefined;
  authkeyFile?: string | undefined;
}): Promise<string | undefined> {
  if (settings.authkey) return settings.authkey;
  if (!settings.authkeyFile) return undefined;
  try {
    return (await readFile(settings.authkeyFile, 'utf8')).replace(/\r?\n$/, '');
  } catch (error) {
    throw new ConfigError(
      `cannot read authkey file ${settings.authkeyFile}: ${(error as NodeJS.ErrnoException).code}`,
    );
  }
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

/**
 * Print `error` as one line (no stack trace unless TASKWIRE_DEBUG is set) and exit: 2 for
 * configuration and authentication problems, 1 for anything else.
 */
export function exitWithError(program: string, error: unknown): never {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`${program}: error: ${redactSecrets(message.split('\n')[0] ?? message)}`);
  if (process.env.TASKWIRE_DEBUG && error instanceof Error) console.error(error.stack);
  const code =
    TaskwireError.isInstance(error) && ['TASKWIRE_CONFIG', 'TASKWIRE_AUTH'].includes(error.code) ? 2 : 1;
  process.exit(code);
}

/** Redact passwords of every URL inside a message. */
export function redactSecrets(message: string): string {
  return message.replace(/[a-z][a-z0-9+.-]*:\/\/[^\s"']+/gi, (url) => redactUrl(url));
}
