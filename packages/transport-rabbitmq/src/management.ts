import { AuthError, BackendError, ConfigError, redactUrl } from '@taskwire/core';

/** How long one management API request may take. */
const REQUEST_TIMEOUT_MS = 10_000;

/** Where the management HTTP API is and how to log in to it. */
export interface ManagementTarget {
  /** `http://host:15672` or `https://…`, without credentials. */
  readonly url: string;
  readonly username: string;
  readonly password: string;
  /** The AMQP connection's virtual host. */
  readonly vhost: string;
}

/**
 * Resolve the management URL: credentials given in it win, else those of the AMQP connection. A URL that is not
 * http(s) is a `ConfigError`.
 */
export function resolveManagementTarget(
  given: string,
  amqp: { username: string; password: string; vhost: string },
): ManagementTarget {
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw new ConfigError(
      `invalid RabbitMQ management URL "${redactUrl(given)}": expected http://host:15672`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(
      `invalid RabbitMQ management URL "${redactUrl(given)}": the scheme must be http:// or https://`,
    );
  }
  const username = url.username ? decodeURIComponent(url.username) : amqp.username;
  const password = url.password ? decodeURIComponent(url.password) : amqp.password;
  url.username = '';
  url.password = '';
  return { url: url.toString().replace(/\/+$/, ''), username, password, vhost: amqp.vhost };
}

/** Internal queues of taskwire's own, hidden from {@link ManagementApi.listQueues}. */
function isInternal(name: string, all: ReadonlySet<string>): boolean {
  if (name.startsWith('taskwire.index.') || name.startsWith('amq.gen-')) return true;
  const derived = /^(.*)\.(?:delay\.\d+|due)$/.exec(name);
  return derived !== null && all.has(derived[1]!);
}

/**
 * The few reads taskwire makes of RabbitMQ's management HTTP API (the `rabbitmq_management` plugin): the queue
 * names of the connection's virtual host, and a queue's unacknowledged count. Its figures are sampled by the
 * broker (every 5 s by default, `collect_statistics_interval`), so they lag behind AMQP's.
 */
export class ManagementApi {
  constructor(private readonly target: ManagementTarget) {}

  /** Every queue of the virtual host except taskwire's internal ones, sorted. */
  async listQueues(): Promise<string[]> {
    const queues = (await this.get(`/api/queues/${this.vhost}?columns=name`)) as { name: string }[];
    const all = new Set(queues.map((queue) => queue.name));
    return [...all].filter((name) => !isInternal(name, all)).sort();
  }

  /** Deliveries of `name` not yet acknowledged; undefined when the API does not know the queue (yet). */
  async unacknowledged(name: string): Promise<number | undefined> {
    const queue = (await this.get(
      `/api/queues/${this.vhost}/${encodeURIComponent(name)}?columns=messages_unacknowledged`,
      true,
    )) as { messages_unacknowledged?: number } | undefined;
    return queue?.messages_unacknowledged;
  }

  private get vhost(): string {
    return encodeURIComponent(this.target.vhost);
  }

  private async get(path: string, missingOk = false): Promise<unknown> {
    const { url, username, password } = this.target;
    let response: Response;
    try {
      response = await fetch(url + path, {
        headers: { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` },
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      throw new BackendError(
        `RabbitMQ management API at ${url} is unreachable: ${(error as Error).message} (is the rabbitmq_management plugin enabled?)`,
        { cause: error },
      );
    }
    if (response.status === 404 && missingOk) return undefined;
    if (response.status === 401 || response.status === 403) {
      throw new AuthError(`RabbitMQ management API at ${url} refused the login of "${username}"`);
    }
    if (!response.ok) {
      throw new BackendError(`RabbitMQ management API at ${url} answered ${response.status} to ${path}`, {
        backendCode: response.status,
      });
    }
    return response.json();
  }
}
