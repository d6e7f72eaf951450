import { readFile } from 'node:fs/promises';
import { ConfigError, resolveSettings, type TaskwireSettings } from '@taskwire/core';
import { CLI_CONFIG_KEYS } from './log-options.js';
import type { CommonFlags } from './options.js';

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
    // The file may also hold the CLIs' own settings (logFormat, logLevel), read by the kit.
    extraKeys: CLI_CONFIG_KEYS,
  });
  return settings;
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
