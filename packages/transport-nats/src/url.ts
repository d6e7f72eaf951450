import { ConfigError } from '@taskwire/core';

/** Where the `nats://` transport connects when no URL is given. */
export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

/** Options of the NATS transport's `connect()`; each also has a URL parameter of the same name. */
export interface NatsConnectOptions {
  /**
   * Prefix of every stream (`<prefix>_Q_<queue>`) and subject (`<prefix>.q.<queue>`, `<prefix>.d.<queue>`): queues
   * under another prefix are another namespace. Letters, digits, `-` and `_`. @default 'taskwire'
   */
  prefix?: string;
  /**
   * The ack wait of queues without a visibility timeout: a holder keeps its deliveries with in-progress acks every
   * third of it, so this is how long the deliveries of a holder that died (or lost its link) stay held. Fixed
   * when the queue is created. @default 30000
   */
  ackWaitMs?: number;
  /**
   * Give up reconnecting after this long without a connection: the connection then reports a `BackendError` on
   * its `error` event. @default 300000
   */
  reconnectDeadlineMs?: number;
  /** How long a publish, an ack or a management request waits for its reply. @default 10000 */
  requestTimeoutMs?: number;
}

/** Everything a connection needs, URL and options merged. */
export interface NatsSettings extends Required<NatsConnectOptions> {
  /** `host:port` of the server. */
  readonly server: string;
  readonly user: string | undefined;
  readonly pass: string | undefined;
  /** The URL without its password, for messages. */
  readonly display: string;
}

const PREFIX = /^[A-Za-z0-9_-]+$/;

/** Merge `url` (its parameters) and `options` (which win) into settings. @throws ConfigError on a bad value. */
export function parseNatsUrl(url: string | undefined, options: NatsConnectOptions = {}): NatsSettings {
  let parsed: URL;
  try {
    parsed = new URL(url ?? DEFAULT_NATS_URL);
  } catch {
    throw new ConfigError(`invalid NATS URL "${url}"`);
  }
  if (parsed.protocol !== 'nats:') throw new ConfigError(`a NATS URL starts with nats:// (got "${url}")`);
  const param = (key: keyof NatsConnectOptions) => parsed.searchParams.get(key) ?? undefined;
  const prefix = options.prefix ?? param('prefix') ?? 'taskwire';
  if (!PREFIX.test(prefix))
    throw new ConfigError(`NATS prefix must be letters, digits, - and _ (got "${prefix}")`);
  const server = `${parsed.hostname || '127.0.0.1'}:${parsed.port || 4222}`;
  return {
    server,
    user: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    pass: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    display: `nats://${server}`,
    prefix,
    ackWaitMs: milliseconds('ackWaitMs', options.ackWaitMs ?? param('ackWaitMs'), 30_000),
    reconnectDeadlineMs: milliseconds(
      'reconnectDeadlineMs',
      options.reconnectDeadlineMs ?? param('reconnectDeadlineMs'),
      300_000,
    ),
    requestTimeoutMs: milliseconds(
      'requestTimeoutMs',
      options.requestTimeoutMs ?? param('requestTimeoutMs'),
      10_000,
    ),
  };
}

function milliseconds(name: string, value: number | string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const ms = Number(value);
  if (!Number.isFinite(ms) || ms <= 0)
    throw new ConfigError(`${name} must be a number of milliseconds above 0 (got ${value})`);
  return ms;
}
