import { TaskTimeoutError } from '../errors.js';
import { MAX_TIMER_MS } from '../timer.js';

/** How one attempt ended. */
export type AttemptOutcome = { ok: true; value: unknown } | { ok: false; error: Error };

/**
 * Refuse a task timeout that is not a whole number of milliseconds between 1 and {@link MAX_TIMER_MS}.
 * `undefined` means no timeout.
 */
export function checkTaskTimeout(timeoutMs: number | undefined, name: string): void {
  if (timeoutMs === undefined) return;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMER_MS) {
    throw new RangeError(`${name} must be an integer from 1 to ${MAX_TIMER_MS} ms, got ${timeoutMs}`);
  }
}

/** The context a handler gets: plain fields, and the signal created on first read (a getter on the prototype). */
export class AttemptContext {
  // Created only when the handler reads `signal` or the attempt times out: most tasks never touch it, and a
  // controller per task is measurable on the hot path.
  private controller: AbortController | undefined;

  constructor(
    readonly taskId: string,
    readonly kind: string,
    readonly attempt: number,
    readonly maxAttempts: number,
    readonly worker: string,
    readonly broadcast: boolean,
  ) {}

  /** Aborted when the attempt times out. */
  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    return this.controller.signal;
  }

  /** @internal Abort the attempt with `reason` (a no-op when nobody asked for the signal). */
  abort(reason: Error): void {
    this.controller?.abort(reason);
  }
}

/**
 * Run `handler(payload, context)` without a timeout. A synchronous handler's outcome is returned as is, with no
 * promise: most tasks are small and synchronous, and the hot path pays for every microtask.
 */
export function runUntimed(
  handler: (payload: unknown, context: AttemptContext) => unknown,
  payload: unknown,
  context: AttemptContext,
): AttemptOutcome | Promise<AttemptOutcome> {
  let value: unknown;
  try {
    value = handler(payload, context);
  } catch (error) {
    return { ok: false, error: toError(error) };
  }
  if (typeof (value as PromiseLike<unknown> | null)?.then !== 'function') return { ok: true, value };
  return Promise.resolve(value).then(
    (resolved): AttemptOutcome => ({ ok: true, value: resolved }),
    (error): AttemptOutcome => ({ ok: false, error: toError(error) }),
  );
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * Run `work` (a handler call) and settle with its outcome, or with a {@link TaskTimeoutError} after `timeoutMs`,
 * whichever comes first. On timeout the attempt's signal is aborted; a handler that ignores it keeps running in
 * the background, which is why `--isolate threads` exists.
 */
export async function runAttempt(
  work: () => unknown,
  attempt: { abort(reason: Error): void },
  timeoutMs: number | undefined,
  describe: () => string,
): Promise<AttemptOutcome> {
  let timer: NodeJS.Timeout | undefined;
  // The timer starts before the handler, so time a synchronous handler spends counts against its limit.
  const timedOut =
    timeoutMs === undefined
      ? undefined
      : new Promise<AttemptOutcome>((resolve) => {
          timer = setTimeout(() => {
            const error = new TaskTimeoutError(`${describe()} timed out after ${timeoutMs} ms`);
            attempt.abort(error);
            resolve({ ok: false, error });
          }, timeoutMs);
        });
  const settled = (async (): Promise<AttemptOutcome> => {
    try {
      return { ok: true, value: await work() };
    } catch (error) {
      return { ok: false, error: toError(error) };
    }
  })();
  if (!timedOut) return settled;
  try {
    return await Promise.race([settled, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
