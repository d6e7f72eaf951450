import { resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from './errors.js';
import { createMemoryTransport } from './memory/transport.js';
import type { Transport } from './types.js';
import { schemeOf } from './url-scheme.js';

/** Creates a transport. Third-party packages export one of these (or a ready transport). */
export type TransportFactory = (options?: Record<string, unknown>) => Transport | Promise<Transport>;

/** What a registration says about a transport, known before its package is loaded. */
export interface RegisteredTransport {
  /** The name `--transport` takes. */
  readonly name: string;
  /** URL schemes that name this transport (`redis://…`). */
  readonly schemes: readonly string[];
  /** The backend address used when no URL is given, if the transport has one. */
  readonly defaultUrl: string | undefined;
}

/** Options of {@link registerTransport}. */
export interface RegisterTransportOptions {
  /** URL schemes that name the transport. @default [name] */
  schemes?: readonly string[];
  /** The backend address used when no URL is given (e.g. `nats://127.0.0.1:4222`). */
  defaultUrl?: string;
}

interface Registration extends RegisteredTransport {
  /** A factory, or the module specifier to import lazily. */
  readonly source: TransportFactory | string;
}

const registrations = new Map<string, Registration>();

const NAME = /^[a-z][a-z0-9+.-]*$/;

/**
 * Register a transport under `name`, reachable by that name and by each of `schemes` in a URL;
 * settings resolution ({@link resolveSettings}) reads the same table, so a registered scheme
 * works as `--transport scheme://host` and as `--url scheme://host`. `source` is a factory or a
 * module specifier imported on first use (so `@taskwire/core` never loads a broker client nobody
 * asked for).
 */
export function registerTransport(
  name: string,
  source: TransportFactory | string,
  options: RegisterTransportOptions = {},
): void {
  if (!NAME.test(name)) throw new TypeError(`invalid transport name "${name}"`);
  const schemes = (options.schemes ?? [name]).map((scheme) => scheme.toLowerCase());
  for (const scheme of schemes) {
    if (!NAME.test(scheme)) throw new TypeError(`invalid URL scheme "${scheme}" of transport "${name}"`);
  }
  registrations.set(name, { name, schemes, defaultUrl: options.defaultUrl, source });
}

/** Names of every registered transport. */
export function knownTransports(): string[] {
  return [...registrations.keys()];
}

/** URL schemes of every registered transport. */
export function knownSchemes(): string[] {
  return [...registrations.values()].flatMap((registration) => registration.schemes);
}

/**
 * The registration a name (`redis`) or a URL (`redis://host`, by its scheme) refers to, or
 * `undefined` for anything else (a package name, a file path, an unknown scheme).
 */
export function findTransport(spec: string): RegisteredTransport | undefined {
  const registration = registrationFor(spec.trim());
  return (
    registration && {
      name: registration.name,
      schemes: registration.schemes,
      defaultUrl: registration.defaultUrl,
    }
  );
}

registerTransport('memory', () => createMemoryTransport(), { schemes: ['memory'], defaultUrl: 'memory://' });
registerTransport('tcp', '@taskwire/transport-tcp', {
  schemes: ['tcp', 'tcps'],
  defaultUrl: 'tcp://127.0.0.1:5555',
});
registerTransport('redis', '@taskwire/transport-redis', {
  schemes: ['redis', 'rediss'],
  defaultUrl: 'redis://127.0.0.1:6379',
});
registerTransport('rabbitmq', '@taskwire/transport-rabbitmq', {
  schemes: ['amqp', 'amqps'],
  defaultUrl: 'amqp://127.0.0.1:5672',
});
registerTransport('postgres', '@taskwire/transport-postgres', {
  schemes: ['postgres', 'postgresql'],
  defaultUrl: 'postgres://127.0.0.1:5432/postgres',
});
registerTransport('nats', '@taskwire/transport-nats', {
  schemes: ['nats'],
  defaultUrl: 'nats://127.0.0.1:4222',
});

/** What {@link resolveTransport} accepts. */
export type TransportSpec = Transport | string | { type: string; options?: Record<string, unknown> };

/** Options of {@link resolveTransport}. */
export interface ResolveTransportOptions {
  /** Passed to the factory. */
  options?: Record<string, unknown>;
  /**
   * Imports a module specifier. Pass `(s) => import(s)` from your application so packages resolve
   * from its `node_modules` (core cannot see packages it does not depend on).
   * @default specifier => import(specifier)
   */
  importModule?: (specifier: string) => Promise<unknown>;
}

/** True for `{ name, schemes, capabilities, connect }`. */
export function isTransport(value: unknown): value is Transport {
  const candidate = value as Transport | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.connect === 'function' &&
    typeof candidate.name === 'string' &&
    typeof candidate.capabilities === 'object'
  );
}

function looksLikeModule(spec: string): boolean {
  return /^(\.{1,2}\/|\/|file:)/.test(spec) || spec.startsWith('@') || /\.(m?js|cjs|ts)$/.test(spec);
}

function registrationFor(spec: string): Registration | undefined {
  const byName = registrations.get(spec.toLowerCase());
  if (byName) return byName;
  const scheme = schemeOf(spec);
  if (!scheme) return undefined;
  for (const registration of registrations.values()) {
    if (registration.schemes.includes(scheme)) return registration;
  }
  return undefined;
}

async function fromModule(
  specifier: string,
  importModule: (specifier: string) => Promise<unknown>,
  options: Record<string, unknown> | undefined,
  label: string,
): Promise<Transport> {
  let mod: Record<string, unknown>;
  try {
    mod = (await importModule(specifier)) as Record<string, unknown>;
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND'
        ? 'not installed'
        : (error as Error).message;
    throw new ConfigError(`cannot load transport ${label} from "${specifier}": ${reason}`, { cause: error });
  }
  const candidates = [mod.default, mod.transport, mod.createTransport];
  for (const candidate of candidates) {
    if (isTransport(candidate)) return candidate;
    if (typeof candidate === 'function') {
      const transport = await (candidate as TransportFactory)(options);
      if (isTransport(transport)) return transport;
    }
  }
  throw new ConfigError(
    `"${specifier}" does not export a transport: export default a transport or a factory (options) => transport`,
  );
}

/**
 * Turn a spec into a transport: a transport instance; a registered name (`tcp`, `redis`,
 * `rabbitmq`, `memory`); a URL whose scheme names one (`redis://…`); `{ type, options }`; or a
 * module specifier / file path whose default export is a transport or a factory.
 *
 * @throws ConfigError naming the known transports when nothing matches.
 */
export async function resolveTransport(
  spec: TransportSpec,
  resolveOptions: ResolveTransportOptions = {},
): Promise<Transport> {
  if (isTransport(spec)) return spec;
  const importModule = resolveOptions.importModule ?? ((specifier: string) => import(specifier));
  let options = resolveOptions.options;
  let name: string;
  if (typeof spec === 'string') {
    name = spec.trim();
  } else if (typeof spec === 'object' && spec !== null && typeof spec.type === 'string') {
    name = spec.type;
    options = { ...spec.options, ...options };
  } else {
    throw new TypeError('transport must be a transport, a name, a URL, a module path or { type, options }');
  }
  if (name === '')
    throw new ConfigError(`empty transport name; known transports: ${knownTransports().join(', ')}`);
  const registration = registrationFor(name);
  if (registration) {
    const { source } = registration;
    if (typeof source === 'function') return source(options);
    return fromModule(source, importModule, options, `"${registration.name}"`);
  }
  const unknown = () =>
    new ConfigError(
      `unknown transport "${redactUrl(name)}"; known transports: ${knownTransports().join(', ')} (or a URL, a package name or a file path)`,
    );
  if (schemeOf(name) && !name.startsWith('file:')) throw unknown();
  try {
    return await fromModule(toSpecifier(name), importModule, options, `"${name}"`);
  } catch (error) {
    // A bare word that is neither registered nor installed is most likely a typo.
    if (!looksLikeModule(name) && (error as Error).message.endsWith('not installed')) throw unknown();
    throw error;
  }
}

function toSpecifier(name: string): string {
  // A file path is imported by URL so relative paths resolve from the working directory.
  if (/^(\.{1,2}\/|\/)/.test(name)) return pathToFileURL(resolvePath(name)).href;
  return name;
}

/** Replace the password (and a token-like username) of a URL with `***` for logs. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^/@\s]*)@/i, (_match, scheme: string, auth: string) => {
    const colon = auth.indexOf(':');
    return colon === -1 ? `${scheme}***@` : `${scheme}${auth.slice(0, colon)}:***@`;
  });
}
