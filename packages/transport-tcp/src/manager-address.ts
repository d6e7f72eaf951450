import { ConfigError, redactUrl } from '@taskwire/core';
import { DEFAULT_PORT } from './protocol.js';

/** Where a client connects. */
export interface ManagerAddress {
  readonly host: string;
  readonly port: number;
  /** `tcps://`: TLS. */
  readonly secure: boolean;
  /** The URL for messages, e.g. `tcp://127.0.0.1:5555` (never carries a secret). */
  readonly label: string;
  /** `?reconnectDeadlineMs=`, when the URL gives it. */
  readonly reconnectDeadlineMs?: number;
}

/**
 * Parse `tcp://host[:port]` or `tcps://host[:port]` (port defaults to {@link DEFAULT_PORT}), with an optional
 * `?reconnectDeadlineMs=` (the name and meaning it has on every transport).
 * @throws ConfigError for anything else.
 */
export function parseManagerUrl(url: string): ManagerAddress {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(
      `invalid TCP manager URL "${redactUrl(url)}": expected tcp://host:port or tcps://host:port`,
    );
  }
  const scheme = parsed.protocol.slice(0, -1);
  if (scheme !== 'tcp' && scheme !== 'tcps') {
    throw new ConfigError(
      `invalid TCP manager URL "${redactUrl(url)}": the scheme must be tcp:// or tcps://`,
    );
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) throw new ConfigError(`invalid TCP manager URL "${redactUrl(url)}": missing host`);
  const port = parsed.port === '' ? DEFAULT_PORT : Number(parsed.port);
  const label = formatUrl(scheme, host, port);
  const deadline = parsed.searchParams.get('reconnectDeadlineMs');
  if (deadline === null) return { host, port, secure: scheme === 'tcps', label };
  if (!/^\d+$/.test(deadline) || Number(deadline) === 0) {
    throw new ConfigError(
      `invalid TCP manager URL "${redactUrl(url)}": reconnectDeadlineMs must be a whole number of milliseconds above 0`,
    );
  }
  return { host, port, secure: scheme === 'tcps', label, reconnectDeadlineMs: Number(deadline) };
}

/** `tcp://host:port`, bracketing an IPv6 host. */
export function formatUrl(scheme: 'tcp' | 'tcps', host: string, port: number): string {
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
