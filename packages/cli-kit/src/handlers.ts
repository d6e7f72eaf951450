import { resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, type TaskHandler } from '@taskwire/core';

/** Handlers available by name. */
export const BUILTIN_HANDLERS: Record<string, TaskHandler> = {
  /** The seed's demo: n → n². */
  square: (n: number) => n * n,
  /** Returns its payload unchanged. */
  echo: (payload: unknown) => payload,
  /** Sleeps `ms` (or payload.ms) milliseconds, then returns it — for exercising shutdown. */
  sleep: async (payload: number | { ms: number }) => {
    const ms = typeof payload === 'number' ? payload : payload.ms;
    await new Promise((resolve) => setTimeout(resolve, ms));
    return ms;
  },
};

function isPath(spec: string): boolean {
  return /^(\.{1,2}\/|\/)/.test(spec) || /\.(m?js|cjs)$/.test(spec);
}

/**
 * A built-in handler name, or a module (package or file path) whose default export is a handler
 * function or an object mapping task kinds to handlers.
 */
export async function loadHandler(spec: string): Promise<TaskHandler | Record<string, TaskHandler>> {
  const builtin = Object.hasOwn(BUILTIN_HANDLERS, spec) ? BUILTIN_HANDLERS[spec] : undefined;
  if (builtin) return builtin;
  const specifier = isPath(spec) ? pathToFileURL(resolvePath(spec)).href : spec;
  let mod: { default?: unknown };
  try {
    mod = (await import(specifier)) as { default?: unknown };
  } catch (error) {
    const notFound = (error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND';
    if (notFound && !isPath(spec) && !spec.includes('/')) {
      // A bare word that is neither built in nor installed is most likely a typo.
      throw new ConfigError(
        `unknown handler "${spec}"; built-in handlers: ${Object.keys(BUILTIN_HANDLERS).join(', ')} (or a module path or package name)`,
      );
    }
    throw new ConfigError(`cannot load handler "${spec}": ${(error as Error).message.split('\n')[0]}`);
  }
  const handler = mod.default;
  if (typeof handler === 'function') return handler as TaskHandler;
  if (
    typeof handler === 'object' &&
    handler !== null &&
    Object.values(handler).every((h) => typeof h === 'function')
  ) {
    return handler as Record<string, TaskHandler>;
  }
  throw new ConfigError(`handler module "${spec}" must export default a function or an object of functions`);
}
