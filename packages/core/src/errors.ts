const MARKER = Symbol.for('taskwire.error');
const RETRYABLE = Symbol('taskwire.retryable');

/**
 * Stable error codes. Codes never change between majors; messages may.
 */
export const ErrorCodes = {
  QUEUE_EMPTY: 'TASKWIRE_QUEUE_EMPTY',
  QUEUE_FULL: 'TASKWIRE_QUEUE_FULL',
  AUTH: 'TASKWIRE_AUTH',
  UNSUPPORTED: 'TASKWIRE_UNSUPPORTED',
  CONNECTION_CLOSED: 'TASKWIRE_CONNECTION_CLOSED',
  FRAME_TOO_LARGE: 'TASKWIRE_FRAME_TOO_LARGE',
  DECODE: 'TASKWIRE_DECODE',
  CONFIG: 'TASKWIRE_CONFIG',
  WORKER_LOST: 'TASKWIRE_WORKER_LOST',
  TASK_TIMEOUT: 'TASKWIRE_TASK_TIMEOUT',
  RESULT_ENCODING: 'TASKWIRE_RESULT_ENCODING',
  BACKEND: 'TASKWIRE_BACKEND',
  QUEUE_NOT_FOUND: 'TASKWIRE_QUEUE_NOT_FOUND',
} as const;

/** One of the values of {@link ErrorCodes}. */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Options of every taskwire error's constructor. */
export interface TaskwireErrorOptions {
  /** The error this one reports (kept as the standard `cause`). */
  cause?: unknown;
  /** Overrides the code's default {@link TaskwireError.retryable}. */
  retryable?: boolean;
}

/**
 * Codes whose operation may succeed when tried again later, unchanged: a queue that was empty or full, a
 * connection that was down, a backend that was busy. The rest (bad input, a refused key, a missing capability)
 * fail the same way every time.
 */
const RETRYABLE_CODES: ReadonlySet<ErrorCode> = new Set([
  ErrorCodes.QUEUE_EMPTY,
  ErrorCodes.QUEUE_FULL,
  ErrorCodes.CONNECTION_CLOSED,
]);

/**
 * Base class of every error taskwire throws on purpose.
 *
 * Use {@link TaskwireError.isInstance} (or the `isInstance` of a subclass) rather than `instanceof`:
 * it also recognises errors created by another copy of `@taskwire/core` in the same process.
 */
export class TaskwireError extends Error {
  /** A stable, machine-readable code. */
  readonly code: ErrorCode;
  /**
   * True when trying the same operation again later, unchanged, may succeed (a full or empty queue, a dropped
   * connection, a busy backend); false when it will fail the same way (bad input, a refused authkey, an
   * unsupported option). Callers that retry should retry only these.
   */
  get retryable(): boolean {
    return (this as { [RETRYABLE]?: boolean })[RETRYABLE] ?? RETRYABLE_CODES.has(this.code);
  }

  constructor(code: ErrorCode, message: string, options?: TaskwireErrorOptions) {
    super(message, options && 'cause' in options ? { cause: options.cause } : undefined);
    this.code = code;
    this.name = 'TaskwireError';
    Object.defineProperty(this, MARKER, { value: true });
    // Not enumerable, like the marker: an error's own enumerable fields stay what they always were.
    if (options?.retryable !== undefined)
      Object.defineProperty(this, RETRYABLE, { value: options.retryable });
  }

  /** True when `error` is a taskwire error (from any installed copy of core). */
  static isInstance(error: unknown): error is TaskwireError {
    return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[MARKER] === true;
  }
}

function hasCode(error: unknown, code: ErrorCode): boolean {
  return TaskwireError.isInstance(error) && error.code === code;
}

/** `get()` timed out with nothing to take (like Python's `queue.Empty`). */
export class QueueEmptyError extends TaskwireError {
  constructor(message: string, options?: TaskwireErrorOptions) {
    super(ErrorCodes.QUEUE_EMPTY, message, options);
    this.name = 'QueueEmptyError';
  }
  static override isInstance(error: unknown): error is QueueEmptyError {
    return hasCode(error, ErrorCodes.QUEUE_EMPTY);
  }
}

/** `put()` found a bounded queue full and its timeout passed (like Python's `queue.Full`). */
export class QueueFullError extends TaskwireError {
  constructor(message: string, options?: TaskwireErrorOptions) {
    super(ErrorCodes.QUEUE_FULL, message, options);
    this.name = 'QueueFullError';
  }
  static override isInstance(error: unknown): error is QueueFullError {
    return hasCode(error, ErrorCodes.QUEUE_FULL);
  }
}

/** The peer rejected our authkey, or we rejected theirs. */
export class AuthError extends TaskwireError {
  constructor(message: string, options?: TaskwireErrorOptions) {
    super(ErrorCodes.AUTH, message, options);
    this.name = 'AuthError';
  }
  static override isInstance(error: unknown): error is AuthError {
    return hasCode(error, ErrorCodes.AUTH);
  }
}

/** The transport cannot do what was asked (an option or a capability it does not have). */
export class UnsupportedError extends TaskwireError {
  constructor(message: string, options?: TaskwireErrorOptions) {
    super(ErrorCodes.UNSUPPORTED, message, options);
    this.name = 'UnsupportedError';
  }
  static override isInstance(error: unknown): error is UnsupportedError {
    return hasCode(error, ErrorCodes.UNSUPPORTED);
  }
}

/**
 * The queue does not exist on the backend (deleted behind the handle): a put to it is refused rather than
 * accepted and dropped. Declare the queue again to use it.
 */
export class QueueNotFoundError extends TaskwireError {
  constructor(message: string, options?: TaskwireErrorOptions) {
    super(ErrorCodes.QUEUE_NOT_FOUND, message, options);
    this.name = 'QueueNotFoundError';
  }
  static override isInstance(error: unknown): error is QueueNotFoundError {
    return hasCode(error, ErrorCodes.QUEUE_NOT_FOUND);
  }
}

/** The connection or queue was closed while the operation was pending, or before it started. */
export class ConnectionClosedError extends TaskwireError {
  constructor(message: string, options?: TaskwireErrorOptions) {
    super(ErrorCodes.CONNECTION_CLOSED, message, options);
    this.name = 'ConnectionClosedError';
  }
  static override isInstance(error: unknown): error is ConnectionClosedError {
    return hasCode(error, ErrorCodes.CONNECTION_CLOSED);
  }
}

/** A payload or frame is larger than the configured limit. */
export class FrameTooLargeError extends TaskwireError {
  constructor(message: string, options?: TaskwireErrorOptions) {
    super(ErrorCodes.FRAME_TOO_LARGE, message, options);
    this.name = 'FrameTooLargeError';
  }
  static override isInstance(error: unknown): error is FrameTooLargeError {
    return hasCode(error, ErrorCodes.FRAME_TOO_LARGE);
  }
}

/** Bytes that are not a valid taskwire message. */
export class DecodeError extends TaskwireError {
  constructor(message: string, options?: TaskwireErrorOptions) {
    super(ErrorCodes.DECODE, message, options);
    this.name = 'DecodeError';
  }
  static override isInstance(error: unknown): error is DecodeError {
    return hasCode(error, ErrorCodes.DECODE);
  }
}

/** Bad configuration: an unknown transport, a malformed URL, a missing authkey. */
export class ConfigError extends TaskwireError {
  constructor(message: string, options?: TaskwireErrorOptions) {
    super(ErrorCodes.CONFIG, message, options);
    this.name = 'ConfigError';
  }
  static override isInstance(error: unknown): error is ConfigError {
    return hasCode(error, ErrorCodes.CONFIG);
  }
}

/**
 * A task's attempts all ended without a result: the worker running it died (`process.exit`, a signal,
 * out of memory) or lost its connection while running it, as many times as the task allows.
 */
export class WorkerLostError extends TaskwireError {
  constructor(message: string, options?: TaskwireErrorOptions) {
    super(ErrorCodes.WORKER_LOST, message, options);
    this.name = 'WorkerLostError';
  }
  static override isInstance(error: unknown): error is WorkerLostError {
    return hasCode(error, ErrorCodes.WORKER_LOST);
  }
}

/** A task's attempt ran longer than its timeout (`taskTimeoutMs` or the task's `timeoutMs`). */
export class TaskTimeoutError extends TaskwireError {
  constructor(message: string, options?: TaskwireErrorOptions) {
    super(ErrorCodes.TASK_TIMEOUT, message, options);
    this.name = 'TaskTimeoutError';
  }
  static override isInstance(error: unknown): error is TaskTimeoutError {
    return hasCode(error, ErrorCodes.TASK_TIMEOUT);
  }
}

/** A handler's return value cannot travel as a result (a Symbol, a cyclic object, over the size limit). */
export class ResultEncodingError extends TaskwireError {
  constructor(message: string, options?: TaskwireErrorOptions) {
    super(ErrorCodes.RESULT_ENCODING, message, options);
    this.name = 'ResultEncodingError';
  }
  static override isInstance(error: unknown): error is ResultEncodingError {
    return hasCode(error, ErrorCodes.RESULT_ENCODING);
  }
}

/**
 * An error of the backend itself (Redis, RabbitMQ, a socket) that taskwire has no more specific class for. The
 * client library's error is kept as `cause`, untouched, so its own code and message stay available;
 * {@link TaskwireError.retryable} says whether the same call may succeed later (a dropped socket, a busy broker)
 * or not (a wrong key type, a refused argument). Transports create it with `wrapBackendError` from
 * `@taskwire/core/transport`.
 */
export class BackendError extends TaskwireError {
  /** The backend's own code for the failure when it has one (`'ECONNRESET'`, `'WRONGTYPE'`, `406`). */
  readonly backendCode: string | number | undefined;

  constructor(message: string, options?: TaskwireErrorOptions & { backendCode?: string | number }) {
    super(ErrorCodes.BACKEND, message, options);
    this.backendCode = options?.backendCode;
    this.name = 'BackendError';
  }
  static override isInstance(error: unknown): error is BackendError {
    return hasCode(error, ErrorCodes.BACKEND);
  }
}
