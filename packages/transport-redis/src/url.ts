import { ConfigError, redactUrl } from '@taskwire/core';
import type { RedisOptions } from 'ioredis';

/** Where connect() goes when no URL is given. */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/**
 * Turn `redis://[user[:password]@]host[:port][/db]` (or `rediss://` for TLS) into ioredis
 * options. A malformed URL is a one-line `ConfigError` with the password redacted.
 */
export function parseRedisUrl(url: string): RedisOptions {
  const fail = (why: string) =>
    new ConfigError(
      `invalid Redis URL "${redactUrl(url)}": ${why} (expected redis://[user:password@]host[:port][/db])`,
    );
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw fail('not a URL');
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw fail(`the scheme must be redis:// or rediss://, not ${parsed.protocol}//`);
  }
  if (!parsed.hostname) throw fail('the host is missing');
  const port = parsed.port ? Number(parsed.port) : 6379;
  const path = parsed.pathname.replace(/^\//, '');
  if (path !== '' && !/^\d+$/.test(path)) throw fail(`the database "${path}" is not a number`);
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  const options: RedisOptions = { host, port, db: path === '' ? 0 : Number(path) };
  if (parsed.username) options.username = decodeURIComponent(parsed.username);
  if (parsed.password) options.password = decodeURIComponent(parsed.password);
  if (parsed.protocol === 'rediss:') options.tls = { servername: host };
  return options;
}

/** taskwire options a Redis URL may carry as query parameters (`?prefix=jobs&leaseTtlMs=5000`). */
export interface RedisUrlSettings {
  prefix?: string;
  leaseTtlMs?: number;
  reconnectDeadlineMs?: number;
}

/**
 * Read `prefix`, `leaseTtlMs` and `reconnectDeadlineMs` from a URL's query, so a CLI flag like `--url` can set them.
 * Any other parameter is a `ConfigError`: a typo must not be silently ignored.
 */
export function redisUrlSettings(url: string): RedisUrlSettings {
  let params: URLSearchParams;
  try {
    params = new URL(url).searchParams;
  } catch {
    return {};
  }
  const settings: RedisUrlSettings = {};
  for (const [key, value] of params) {
    if (key === 'prefix' && value !== '') settings.prefix = value;
    else if (key === 'leaseTtlMs' && /^\d+$/.test(value) && Number(value) > 0)
      settings.leaseTtlMs = Number(value);
    else if (key === 'reconnectDeadlineMs' && /^\d+$/.test(value) && Number(value) > 0)
      settings.reconnectDeadlineMs = Number(value);
    else {
      throw new ConfigError(
        `invalid Redis URL "${redactUrl(url)}": unknown or bad query parameter "${key}" (known: prefix, leaseTtlMs, reconnectDeadlineMs)`,
      );
    }
  }
  return settings;
}
