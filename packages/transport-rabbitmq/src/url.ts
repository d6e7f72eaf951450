import { ConfigError, redactUrl } from '@taskwire/core';
import type { Options } from 'amqplib';
import { QUEUE_KIND_PARAMETERS, queueKindFromUrl } from './queue-kind.js';

/** The URL query parameter (and connect option) that bounds how long a dropped connection keeps reconnecting. */
const RECONNECT_DEADLINE_PARAM = 'reconnectDeadlineMs';
/** The URL query parameter that points at the management HTTP API (`?management=http://127.0.0.1:15672`). */
const MANAGEMENT_PARAM = 'management';

/** Where and how to reach the broker, from a URL or from separate connection options. */
export interface EndpointOptions {
  /**
   * `amqp://user:password@host:5672/vhost?heartbeat=30` or `amqps://…`; `?queueType=quorum&deliveryLimit=20`
   * set the connection's queue options.
   */
  url?: string;
  /** Broker host when no `url` is given. @default '127.0.0.1' */
  hostname?: string;
  /** Broker port when no `url` is given. @default 5672 (5671 with `tls`) */
  port?: number;
  /** @default 'guest' */
  username?: string;
  /** @default 'guest' */
  password?: string;
  /** Virtual host. @default '/' */
  vhost?: string;
  /** Heartbeat interval in seconds (0 disables). @default the broker's suggestion */
  heartbeat?: number;
  /** Use TLS (`amqps`) when no `url` is given. @default false */
  tls?: boolean;
}

/** A resolved endpoint: what amqplib connects to and how to name it in messages. */
export interface BrokerAddress {
  /** Passed to amqplib's `connect`. */
  readonly target: string | Options.Connect;
  /** The URL with its password redacted, for errors and logs. */
  readonly display: string;
  /** taskwire's own URL parameters (`queueType`, `deliveryLimit`), removed from `target`. */
  readonly queueKind: { queueType?: string; deliveryLimit?: string };
  /** `reconnectDeadlineMs` from the URL's query, when given there (removed from `target`). */
  readonly reconnectDeadlineMs?: number;
  /** The management API URL from the URL's `management` parameter (removed from `target`). */
  readonly management?: string;
  /** Who logs in, and to which virtual host (what the management API is asked with by default). */
  readonly login: { readonly username: string; readonly password: string; readonly vhost: string };
}

/** Resolve `url` (or the separate options) into an amqplib target; a bad URL is a `ConfigError`. */
export function resolveBrokerAddress(options: EndpointOptions): BrokerAddress {
  if (options.url === undefined) {
    const protocol = options.tls ? 'amqps' : 'amqp';
    const hostname = options.hostname ?? '127.0.0.1';
    const port = options.port ?? (options.tls ? 5671 : 5672);
    const vhost = options.vhost ?? '/';
    const target: Options.Connect = {
      protocol,
      hostname,
      port,
      username: options.username ?? 'guest',
      password: options.password ?? 'guest',
      vhost,
    };
    if (options.heartbeat !== undefined) target.heartbeat = options.heartbeat;
    const user = options.username ?? 'guest';
    const display = `${protocol}://${user}:***@${hostname}:${port}/${encodeURIComponent(vhost)}`;
    const login = { username: user, password: options.password ?? 'guest', vhost };
    return { target, display, queueKind: {}, login };
  }
  const display = redactUrl(options.url);
  let parsed: URL;
  try {
    parsed = new URL(options.url);
  } catch {
    throw new ConfigError(
      `invalid RabbitMQ URL "${display}": expected amqp://user:password@host:5672/vhost or amqps://…`,
    );
  }
  if (parsed.protocol !== 'amqp:' && parsed.protocol !== 'amqps:') {
    throw new ConfigError(`invalid RabbitMQ URL "${display}": the scheme must be amqp:// or amqps://`);
  }
  if (!parsed.hostname) throw new ConfigError(`invalid RabbitMQ URL "${display}": the host is missing`);
  const heartbeat = parsed.searchParams.get('heartbeat');
  if (heartbeat !== null && !/^\d+$/.test(heartbeat)) {
    throw new ConfigError(`invalid RabbitMQ URL "${display}": heartbeat must be a whole number of seconds`);
  }
  const queueKind = queueKindFromUrl(parsed);
  const deadline = parsed.searchParams.get(RECONNECT_DEADLINE_PARAM);
  if (deadline !== null && (!/^\d+$/.test(deadline) || Number(deadline) === 0)) {
    throw new ConfigError(
      `invalid RabbitMQ URL "${display}": ${RECONNECT_DEADLINE_PARAM} must be a whole number of milliseconds above 0`,
    );
  }
  const reconnectDeadlineMs = deadline === null ? undefined : Number(deadline);
  const management = parsed.searchParams.get(MANAGEMENT_PARAM) ?? undefined;
  // amqplib's defaults: guest/guest on vhost '/' when the URL names none.
  const login = {
    username: parsed.username ? decodeURIComponent(parsed.username) : 'guest',
    password: parsed.password ? decodeURIComponent(parsed.password) : 'guest',
    vhost: parsed.pathname.length > 1 ? decodeURIComponent(parsed.pathname.slice(1)) : '/',
  };
  if (Object.keys(queueKind).length === 0 && deadline === null && management === undefined)
    return { target: options.url, display, queueKind, login };
  // Ours, not amqplib's: taken out of the URL amqplib reads.
  for (const key of [...QUEUE_KIND_PARAMETERS, RECONNECT_DEADLINE_PARAM, MANAGEMENT_PARAM])
    parsed.searchParams.delete(key);
  return { target: parsed.toString(), display, queueKind, reconnectDeadlineMs, management, login };
}
