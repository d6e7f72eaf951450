import { readFile } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { ConfigError } from './errors.js';
import { findTransport, knownSchemes } from './registry.js';
import { schemeOf } from './url-scheme.js';

/** How an application picks and reaches its backend. */
export interface TaskwireSettings {
  /** A transport name, URL, package or file path. @default 'tcp' */
  transport: string;
  /** Where the backend is; defaults to the transport's registered `defaultUrl`. */
  url: string | undefined;
  /** Shared secret of the TCP manager. */
  authkey: string | undefined;
  /** File holding the authkey. */
  authkeyFile: string | undefined;
  /** Task queue name. @default 'tasks' */
  queue: string;
}

/** Where a setting's value came from. */
export type SettingOrigin = 'flag' | 'env' | 'config' | 'default';

/** Inputs of {@link resolveSettings}. */
export interface SettingsSources {
  /** Values from command-line flags (undefined = not given). */
  flags?: Partial<TaskwireSettings>;
  /** Environment, usually `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Explicit config file (`--config`); otherwise `taskwire.config.json` in `cwd` if present. */
  configFile?: string;
  /** Directory to look for `taskwire.config.json` in. @default process.cwd() */
  cwd?: string;
  /**
   * Keys the config file may hold besides the settings' own: a CLI's own settings (its log format, say), which
   * the CLI reads with {@link readConfigFile}. Any other key is refused.
   */
  extraKeys?: readonly string[];
}

const ENV_KEYS: Record<keyof TaskwireSettings, string> = {
  transport: 'TASKWIRE_TRANSPORT',
  url: 'TASKWIRE_URL',
  authkey: 'TASKWIRE_AUTHKEY',
  authkeyFile: 'TASKWIRE_AUTHKEY_FILE',
  queue: 'TASKWIRE_QUEUE',
};

const KEYS = Object.keys(ENV_KEYS) as (keyof TaskwireSettings)[];

/**
 * The config file's values: `configFile` (which must exist), or `taskwire.config.json` in `cwd` when present (else
 * none). Every value is a string; a key that is neither a setting nor one of `extraKeys` is a `ConfigError`.
 */
export async function readConfigFile(
  sources: Pick<SettingsSources, 'configFile' | 'cwd' | 'extraKeys'> = {},
): Promise<Record<string, string>> {
  const explicit = sources.configFile !== undefined;
  const path = resolvePath(sources.cwd ?? process.cwd(), sources.configFile ?? 'taskwire.config.json');
  const known: readonly string[] = sources.extraKeys ? [...KEYS, ...sources.extraKeys] : KEYS;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (!explicit && (error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new ConfigError(`cannot read config file ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${path} must hold a JSON object`);
  }
  for (const [key, value] of Object.entries(parsed)) {
    if (!known.includes(key)) {
      throw new ConfigError(`config file ${path}: unknown key "${key}" (known keys: ${known.join(', ')})`);
    }
    if (typeof value !== 'string') throw new ConfigError(`config file ${path}: "${key}" must be a string`);
  }
  return parsed as Record<string, string>;
}

/**
 * Resolve settings with the precedence flag > environment > config file > default. A transport
 * given as a URL also sets `url`; a `url` alone picks the transport its scheme names; a
 * transport without a `url` gets its registered default URL. Schemes and default URLs come
 * from the transport registry ({@link registerTransport}), so a registered third-party
 * transport works the same way as the built-in ones.
 */
export async function resolveSettings(
  sources: SettingsSources = {},
): Promise<{ settings: TaskwireSettings; origin: Record<keyof TaskwireSettings, SettingOrigin> }> {
  const env = sources.env ?? {};
  const file: Partial<TaskwireSettings> = await readConfigFile(sources);
  const settings = {} as Record<keyof TaskwireSettings, string | undefined>;
  const origin = {} as Record<keyof TaskwireSettings, SettingOrigin>;
  for (const key of KEYS) {
    const fromFlag = sources.flags?.[key];
    const fromEnv = env[ENV_KEYS[key]];
    if (fromFlag !== undefined && fromFlag !== '') [settings[key], origin[key]] = [fromFlag, 'flag'];
    else if (fromEnv !== undefined && fromEnv !== '') [settings[key], origin[key]] = [fromEnv, 'env'];
    else if (file[key] !== undefined) [settings[key], origin[key]] = [file[key], 'config'];
    else origin[key] = 'default';
  }
  // `authkey` and `authkeyFile` are one setting: the key from the strongest source wins whole,
  // so `--authkey-file` beats TASKWIRE_AUTHKEY (and TASKWIRE_AUTHKEY_FILE an authkey in the file).
  const rank: Record<SettingOrigin, number> = { flag: 0, env: 1, config: 2, default: 3 };
  if (settings.authkey !== undefined && settings.authkeyFile !== undefined) {
    if (rank[origin.authkeyFile] < rank[origin.authkey])
      [settings.authkey, origin.authkey] = [undefined, 'default'];
    else if (rank[origin.authkey] < rank[origin.authkeyFile]) {
      [settings.authkeyFile, origin.authkeyFile] = [undefined, 'default'];
    }
  }

  let transport = settings.transport;
  let url = settings.url;
  const named = transport && schemeOf(transport) ? findTransport(transport) : undefined;
  if (named) {
    // `--transport redis://host` is shorthand for `--transport redis --url redis://host`.
    url ??= transport;
    transport = named.name;
  }
  if (!transport && url) {
    const scheme = schemeOf(url);
    if (!scheme) throw new ConfigError(`malformed URL "${url}": expected <scheme>://host[:port]`);
    transport = findTransport(url)?.name;
    if (!transport) {
      throw new ConfigError(`unknown URL scheme "${scheme}://"; known: ${knownSchemes().join(', ')}`);
    }
    origin.transport = origin.url;
  }
  transport ??= 'tcp';
  url ??= findTransport(transport)?.defaultUrl;
  return {
    settings: {
      transport,
      url,
      authkey: settings.authkey,
      authkeyFile: settings.authkeyFile,
      queue: settings.queue ?? 'tasks',
    },
    origin,
  };
}
