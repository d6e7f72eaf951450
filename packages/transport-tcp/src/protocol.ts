import {
  AuthError,
  ConfigError,
  ConnectionClosedError,
  DecodeError,
  ErrorCodes,
  FrameTooLargeError,
  QueueEmptyError,
  QueueFullError,
  QueueNotFoundError,
  TaskwireError,
  UnsupportedError,
} from '@taskwire/core';
import { decodeMessage } from './wire.js';

/**
 * The TCP manager's wire protocol. Every frame is a 4-byte big-endian length followed by one
 * msgpack array.
 *
 * Handshake (before anything else, frames ≤ {@link HANDSHAKE_MAX_FRAME_BYTES}):
 * - server → client `[HELLO_MAGIC, PROTOCOL_VERSION, serverNonce, maxFrameBytes]`
 * - client → server `[clientNonce, clientProof]`
 * - server → client `[true, serverProof]` or `[false]` (then the server closes)
 *
 * Then requests `[id, op, ...args]` (id ≥ 1), responses `[id, Status.OK, result?]` or
 * `[id, Status.ERROR, code, message]`, and server pushes `[0, push, ...args]`.
 */

/** Version spoken by this package; the server refuses any other. */
export const PROTOCOL_VERSION = 1;

/** First element of the server's hello, so a client never mistakes another service for a server. */
export const HELLO_MAGIC = 'taskwire';

/** Largest frame accepted before authentication: the handshake is tiny, so a stranger cannot make a peer allocate. */
export const HANDSHAKE_MAX_FRAME_BYTES = 1024;

/** Default largest frame after authentication: a 64 MiB payload plus room for the request around it. */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024 + 64 * 1024;

/** Default TCP port of `serve()` and of a URL without one. */
export const DEFAULT_PORT = 5555;

/** Request operations (client → server). */
export const Op = {
  DECLARE: 1,
  PUT: 2,
  PUT_MANY: 3,
  GET: 4,
  ACK: 5,
  NACK: 6,
  CONSUME: 7,
  CANCEL: 8,
  SIZE: 9,
  PURGE: 10,
  CLOSE_QUEUE: 11,
  PUBLISH: 12,
  SUBSCRIBE: 13,
  UNSUBSCRIBE: 14,
  GOODBYE: 15,
  DELETE_QUEUE: 16,
  /** `[id, LIST_QUEUES]` → sorted names. */
  LIST_QUEUES: 17,
  /** `[id, STATS, name]` → `[ready, delayed, inFlight, consumers, deadLetterName, deadLetterSize]`. */
  STATS: 18,
  /** `[id, PEEK, name, limit]` → `[[itemId, payload, attempts, state, readyAt|nil, priority|nil], …]`. */
  PEEK: 19,
  /** `[id, MOVE_ITEMS, from, to, limit|nil, ids|nil]` → how many moved. */
  MOVE_ITEMS: 20,
  /** `[id, PURGE_QUEUE, name]` → how many removed. */
  PURGE_QUEUE: 21,
} as const;

/** Server pushes (request id 0). */
export const Push = {
  /** `[0, DELIVER, consumerId, tags[], ids[], attempts[], payloads[]]` */
  DELIVER: 1,
  /** `[0, MESSAGE, subscriptionId, payload]` */
  MESSAGE: 2,
  /** `[0, FATAL, code, message]`: the server is about to close this connection. */
  FATAL: 3,
} as const;

/** Second element of a response. */
export const Status = { OK: 0, ERROR: 1 } as const;

/** Wire code of a `TypeError` (a programmer mistake such as a priority out of range). */
const TYPE_ERROR_CODE = 'TypeError';
/** Wire code of a `RangeError` (a duration out of range). */
const RANGE_ERROR_CODE = 'RangeError';

/** The code an error travels under. */
export function errorCode(error: unknown): string {
  if (TaskwireError.isInstance(error)) return error.code;
  if (error instanceof TypeError) return TYPE_ERROR_CODE;
  if (error instanceof RangeError) return RANGE_ERROR_CODE;
  return 'Error';
}

const ERROR_CLASSES: Record<string, new (message: string) => Error> = {
  [ErrorCodes.QUEUE_EMPTY]: QueueEmptyError,
  [ErrorCodes.QUEUE_FULL]: QueueFullError,
  [ErrorCodes.QUEUE_NOT_FOUND]: QueueNotFoundError,
  [ErrorCodes.AUTH]: AuthError,
  [ErrorCodes.UNSUPPORTED]: UnsupportedError,
  [ErrorCodes.CONNECTION_CLOSED]: ConnectionClosedError,
  [ErrorCodes.FRAME_TOO_LARGE]: FrameTooLargeError,
  [ErrorCodes.DECODE]: DecodeError,
  [ErrorCodes.CONFIG]: ConfigError,
  [TYPE_ERROR_CODE]: TypeError,
  [RANGE_ERROR_CODE]: RangeError,
};

/** Rebuild the typed error the server sent. */
export function errorFromWire(code: unknown, message: unknown): Error {
  const ErrorClass = (typeof code === 'string' && ERROR_CLASSES[code]) || Error;
  return new ErrorClass(typeof message === 'string' ? message : 'unknown error from the server');
}

/**
 * Decode one frame body into its array (see {@link decodeMessage} for the limits).
 * @throws DecodeError for anything else.
 */
export function decodeFrame(body: Buffer): unknown[] {
  const message = decodeMessage(body);
  if (!Array.isArray(message) || message.length === 0)
    throw new DecodeError('a frame must be a msgpack array');
  return message;
}

/** A non-negative safe integer, or a {@link DecodeError}. */
export function asUint(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new DecodeError(`${what} must be a non-negative integer`);
  }
  return value;
}

/** A non-negative integer, `null` as `undefined`. */
export function asOptionalUint(value: unknown, what: string): number | undefined {
  return value === null || value === undefined ? undefined : asUint(value, what);
}

/** A string, or a {@link DecodeError}. */
export function asString(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new DecodeError(`${what} must be a string`);
  return value;
}

/** Bytes, or a {@link DecodeError}. */
export function asBytes(value: unknown, what: string): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new DecodeError(`${what} must be bytes`);
  return value;
}

/** An array, or a {@link DecodeError}. */
export function asArray(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new DecodeError(`${what} must be an array`);
  return value;
}
