import { ConfigError, redactUrl } from '@taskwire/core';
import { checkSchemaName } from './sql.js';

/** Where connect() goes when no URL is given. */
export const DEFAULT_POSTGRES_URL = 'postgres://127.0.0.1:5432/postgres';

/** Options of the PostgreSQL transport's `connect()` (and defaults of `createPostgresTransport()`). */
export interface PostgresConnectOptions {
  /**
   * `postgres://[user[:password]@]host[:port]/database[?schema=…&leaseMs=…]` (also `postgresql://`); any libpq
   * parameter `pg` understands (`sslmode`, `application_name`…) is passed on.
   * @default 'postgres://127.0.0.1:5432/postgres'
   */
  url?: string;
  /** Schema of the transport's tables and functions, created by the migrations on connect. @default 'taskwire' */
  schema?: string;
  /**
   * How long an item held by a connection that stopped (a crashed process, a lost link) stays held before it is
   * served again, on queues without a visibility timeout. Live connections renew it every third of it.
   * @default 30000
   */
  leaseMs?: number;
  /**
   * Longest sleep of an idle taker or a put waiting for room between looks at the table. NOTIFY wakes them at once;
   * this only bounds the cost of a lost notification. @default 5000
   */
  pollMs?: number;
  /** Most pooled sessions for statements (the LISTEN session comes on top). @default 10 */
  poolSize?: number;
  /**
   * How long a lost LISTEN session keeps trying to come back before the connection gives up for good and reports
   * it on its `error` event. The same option on every transport. @default 300000 (5 minutes)
   */
  reconnectDeadlineMs?: number;
  /** Time allowed to open a session. @default 5000 */
  connectTimeoutMs?: number;
  /** Run the migrations on connect; false for teams that apply them with `taskwire migrate`. @default true */
  migrate?: boolean;
  /**
   * Whether takes and acks wait for their commit to be flushed to disk (`synchronous_commit`). Puts always do. With
   * `false`, each take and ack of a batch saves a WAL flush; a crash of the server (not of a client) may then forget
   * the last few hundred milliseconds of them: a taken item is served again without its attempt counted, an acked
   * one served again (at-least-once either way). @default true
   */
  durableSettles?: boolean;
  /** Largest encoded payload `put` accepts. @default 67108864 (64 MiB) */
  maxPayloadBytes?: number;
}

/** Everything a connection needs, resolved. */
export interface PostgresSettings {
  /** The URL without taskwire's parameters, for `pg`. */
  readonly connectionString: string;
  /** The URL with the password redacted, for messages. */
  readonly display: string;
  readonly schema: string;
  readonly leaseMs: number;
  readonly pollMs: number;
  readonly poolSize: number;
  readonly reconnectDeadlineMs: number;
  readonly connectTimeoutMs: number;
  readonly migrate: boolean;
  readonly durableSettles: boolean;
  readonly maxPayloadBytes: number | undefined;
}

/** URL parameters that are taskwire's, not libpq's, with their bounds. */
const NUMERIC_PARAMS = {
  leaseMs: [100, 86_400_000],
  pollMs: [1, 3_600_000],
  poolSize: [1, 1000],
  reconnectDeadlineMs: [1, 86_400_000],
  connectTimeoutMs: [1, 600_000],
} as const;
type NumericParam = keyof typeof NUMERIC_PARAMS;

function checkNumber(key: NumericParam, value: number, origin: string): number {
  const [min, max] = NUMERIC_PARAMS[key];
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new ConfigError(
      `invalid ${key} ${String(value)}${origin}: expected a number from ${min} to ${max}`,
    );
  }
  return value;
}

/**
 * Resolve `options` over the URL's taskwire parameters (`schema`, `leaseMs`, `pollMs`, `poolSize`,
 * `reconnectDeadlineMs`, `connectTimeoutMs`, `migrate`, `durableSettles`), which are removed from the URL handed to `pg`. A malformed URL
 * or a bad value is a one-line `ConfigError` with the password redacted.
 */
export function resolveSettings(options: PostgresConnectOptions): PostgresSettings {
  const url = options.url ?? DEFAULT_POSTGRES_URL;
  const display = redactUrl(url);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(
      `invalid PostgreSQL URL "${display}": expected postgres://[user:password@]host[:port]/database`,
    );
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new ConfigError(
      `invalid PostgreSQL URL "${display}": the scheme must be postgres:// or postgresql://, not ${parsed.protocol}//`,
    );
  }
  const fromUrl: Partial<Record<NumericParam, number>> & {
    schema?: string;
    migrate?: boolean;
    durableSettles?: boolean;
  } = {};
  for (const key of [...parsed.searchParams.keys()]) {
    const value = parsed.searchParams.get(key)!;
    if (key === 'schema') fromUrl.schema = value;
    else if (key === 'migrate' || key === 'durableSettles') {
      if (value !== 'true' && value !== 'false')
        throw new ConfigError(`invalid URL parameter ${key}=${value}: expected true or false`);
      fromUrl[key] = value === 'true';
    } else if (key in NUMERIC_PARAMS) {
      fromUrl[key as NumericParam] = checkNumber(key as NumericParam, Number(value), ` in URL "${display}"`);
    } else continue;
    parsed.searchParams.delete(key);
  }
  const pick = (key: NumericParam, fallback: number) =>
    options[key] === undefined ? (fromUrl[key] ?? fallback) : checkNumber(key, options[key], '');
  let schema: string;
  try {
    schema = checkSchemaName(options.schema ?? fromUrl.schema ?? 'taskwire');
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  return {
    connectionString: parsed.toString(),
    display,
    schema,
    leaseMs: pick('leaseMs', 30_000),
    pollMs: pick('pollMs', 5000),
    poolSize: pick('poolSize', 10),
    reconnectDeadlineMs: pick('reconnectDeadlineMs', 300_000),
    connectTimeoutMs: pick('connectTimeoutMs', 5000),
    migrate: options.migrate ?? fromUrl.migrate ?? true,
    durableSettles: options.durableSettles ?? fromUrl.durableSettles ?? true,
    maxPayloadBytes: options.maxPayloadBytes,
  };
}
