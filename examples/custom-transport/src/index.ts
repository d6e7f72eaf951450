/**
 * taskwire-transport-namespaced: a transport that wraps another one and puts every queue and
 * broadcast channel under a namespace, so several tenants (or apps, or CI runs) share one backend
 * without seeing each other's work.
 */
import {
  type Capabilities,
  ConfigError,
  type Connection,
  type ConnectOptions,
  type HostedServer,
  type HostOptions,
  isTransport,
  redactUrl,
  resolveTransport,
  type Transport,
  type TransportSpec,
  UnsupportedError,
} from '@taskwire/core';
import { NamespacedConnection } from './connection.js';

export { NamespacedConnection, NamespacedQueue, namespacedName, SEPARATOR } from './connection.js';

/** Options of {@link createNamespacedTransport}. */
export interface NamespacedTransportOptions {
  /**
   * Prefix of every queue and channel: 1–100 letters, digits, `_`, `.` or `-`.
   * @default process.env.TASKWIRE_NAMESPACE, else {@link DEFAULT_NAMESPACE}
   */
  namespace?: string;
  /**
   * The transport that does the work: an instance, a name (`redis`), a URL, a package name, a
   * file path or `{ type, options }` — anything `resolveTransport` takes.
   * @default chosen by the scheme of `connect({ url })`; `tcp` without a URL and for `serve()`
   */
  inner?: TransportSpec;
}

/** Namespace used when neither the option nor `TASKWIRE_NAMESPACE` gives one. */
export const DEFAULT_NAMESPACE = 'example';

const NAMESPACE_PATTERN = /^[A-Za-z0-9_.-]{1,100}$/;

/** What a transport whose inner transport is not resolved yet reports: nothing is promised. */
export const UNRESOLVED_CAPABILITIES: Capabilities = Object.freeze({
  lifo: false,
  priority: false,
  maxsize: false,
  delayed: false,
  persistent: false,
  deadLetter: false,
  broadcast: false,
  stats: false,
  peek: false,
  listQueues: false,
});

// Imports from this package, so `@taskwire/transport-*` resolve from its own dependencies
// wherever the CLI that loaded it is installed.
const importModule = (specifier: string): Promise<unknown> => import(specifier);

/** `<scheme>://` of `url` (what the registry matches on), `tcp` (the default) without one. */
function innerSpecForUrl(url: string | undefined): string {
  if (url === undefined) return 'tcp';
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1];
  if (!scheme) {
    throw new ConfigError(
      `cannot choose the inner transport from URL "${redactUrl(url)}": expected <scheme>://host[:port], or pass the inner option`,
    );
  }
  return `${scheme.toLowerCase()}://`;
}

/**
 * The namespacing decorator. Queue handles keep the names the caller used; the backend sees
 * `<namespace>:<name>`. Deliveries, errors and capabilities are the inner transport's.
 */
export class NamespacedTransport implements Transport {
  readonly name = 'namespaced';
  /** None: this transport is picked by package name or file path, never by URL scheme. */
  readonly schemes: readonly string[] = [];
  /** The prefix of every queue and channel. */
  readonly namespace: string;
  /**
   * Host the inner transport's queues in this process (the TCP manager unless `inner` says
   * otherwise); the in-process connection is namespaced too. Absent when `inner` is a transport
   * instance that cannot host.
   */
  readonly serve?: (options: HostOptions) => Promise<HostedServer>;

  private innerCapabilities: Capabilities;
  private readonly innerSpec: TransportSpec | undefined;
  private readonly resolved = new Map<string, Promise<Transport>>();

  constructor(options: NamespacedTransportOptions = {}) {
    const namespace = options.namespace ?? process.env.TASKWIRE_NAMESPACE ?? DEFAULT_NAMESPACE;
    if (!NAMESPACE_PATTERN.test(namespace)) {
      throw new ConfigError(
        `invalid namespace "${namespace}": use 1–100 letters, digits, "_", "." or "-" (set the namespace option or TASKWIRE_NAMESPACE)`,
      );
    }
    this.namespace = namespace;
    this.innerSpec = options.inner;
    const known = isTransport(options.inner) ? options.inner : undefined;
    this.innerCapabilities = known?.capabilities ?? UNRESOLVED_CAPABILITIES;
    // Whether a lazily resolved inner transport can host is unknown until serve() runs.
    if (!known || known.serve) this.serve = (hostOptions) => this.host(hostOptions);
  }

  /**
   * The inner transport's capabilities: known at once when `inner` is a transport instance,
   * otherwise those of the inner transport the latest `connect()`/`serve()` resolved
   * ({@link UNRESOLVED_CAPABILITIES} before the first).
   */
  get capabilities(): Capabilities {
    return this.innerCapabilities;
  }

  /** Connect through the inner transport; every option (`url`, `authkey`, …) is passed on. */
  async connect(options: ConnectOptions = {}): Promise<Connection> {
    const inner = await this.innerFor(this.innerSpec ?? innerSpecForUrl(options.url));
    return new NamespacedConnection(this, await inner.connect(options), this.namespace);
  }

  private async host(options: HostOptions): Promise<HostedServer> {
    // Host options carry no URL to choose by, and the TCP manager is the one built-in backend
    // that runs embedded (and the default transport).
    const inner = await this.innerFor(this.innerSpec ?? 'tcp');
    if (!inner.serve) {
      throw new UnsupportedError(
        `transport "${inner.name}" cannot host queues in this process; connect to its backend instead (taskwire-master --no-serve)`,
      );
    }
    const server = await inner.serve(options);
    return {
      url: server.url,
      connect: async (connectOptions) =>
        new NamespacedConnection(this, await server.connect(connectOptions), this.namespace),
      close: () => server.close(),
    };
  }

  /** Resolve `spec` once per spec (the registry imports packages and runs factories). */
  private async innerFor(spec: TransportSpec): Promise<Transport> {
    // A non-string spec can only be the fixed `inner` option: one cache slot is enough.
    const key = typeof spec === 'string' ? spec : '';
    let pending = this.resolved.get(key);
    if (!pending) {
      pending = resolveTransport(spec, { importModule });
      this.resolved.set(key, pending);
      // A failed resolution (a typo, a package not installed) is retried on the next call.
      pending.catch(() => this.resolved.delete(key));
    }
    const inner = await pending;
    this.innerCapabilities = inner.capabilities;
    return inner;
  }
}

/**
 * Create the namespaced transport. This is the package's default export, so
 * `--transport taskwire-transport-namespaced` or `--transport ./path/to/dist/index.js` loads it.
 */
export function createNamespacedTransport(options?: NamespacedTransportOptions): NamespacedTransport {
  return new NamespacedTransport(options);
}

export default createNamespacedTransport;
