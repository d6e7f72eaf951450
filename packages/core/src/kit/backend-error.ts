import { BackendError, TaskwireError } from '../errors.js';

/**
 * Socket error codes of a connection that failed or dropped: trying again (after a reconnect) may succeed.
 */
const NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
]);

/**
 * Reply prefixes and broker codes that mean "busy or moving, ask again": Redis loading its dataset, a cluster
 * slot migrating, a script running too long; AMQP's 320 (connection forced), 504 (channel error) and 541
 * (internal error, usually a restart).
 */
const BUSY_CODES: ReadonlySet<string | number> = new Set([
  'LOADING',
  'TRYAGAIN',
  'BUSY',
  'MASTERDOWN',
  'CLUSTERDOWN',
  'READONLY',
  320,
  504,
  541,
]);

/** Options of {@link wrapBackendError}. */
export interface WrapBackendErrorOptions {
  /** Whether the call may succeed later; by default decided from the error's code (see {@link isRetryable}). */
  retryable?: boolean;
}

/**
 * The code a client library put on `error`: a socket's `code` (`'ECONNRESET'`), AMQP's numeric reply `code`
 * (406), or the first word of a Redis error reply (`'WRONGTYPE'`).
 */
export function backendCodeOf(error: unknown): string | number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string' || typeof code === 'number') return code;
  if (typeof message === 'string') return /^([A-Z][A-Z_]+)\b/.exec(message)?.[1];
  return undefined;
}

/** True when the backend code of `error` says a later, identical call may succeed (a dropped socket, a busy server). */
export function isRetryable(error: unknown): boolean {
  if (TaskwireError.isInstance(error)) return error.retryable;
  const code = backendCodeOf(error);
  return code !== undefined && (NETWORK_CODES.has(String(code)) || BUSY_CODES.has(code));
}

/**
 * Turn a raw client error (ioredis, amqplib, a socket) into a {@link BackendError} with a stable code: the message
 * says what failed (`what`, e.g. `redis: put to "jobs"`) and why (the client's message); the client's error is
 * kept whole as `cause`. A taskwire error (and a `TypeError` or `RangeError`) passes through
 * unchanged, so wrapping twice is harmless.
 */
export function wrapBackendError(error: unknown, what: string, options: WrapBackendErrorOptions = {}): Error {
  // Taskwire's own errors, and the TypeError/RangeError of bad input, already say what they are.
  if (TaskwireError.isInstance(error) || error instanceof TypeError || error instanceof RangeError)
    return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new BackendError(`${what} failed: ${reason}`, {
    cause: error,
    retryable: options.retryable ?? isRetryable(error),
    backendCode: backendCodeOf(error),
  });
}
