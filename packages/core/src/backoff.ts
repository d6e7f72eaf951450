/** Delays between retries: exponential with jitter, capped. */
export interface BackoffOptions {
  /** Delay before the first retry, before jitter. @default 200 */
  baseMs?: number;
  /** Largest delay. @default 30000 */
  maxMs?: number;
  /** Growth per attempt. @default 2 */
  factor?: number;
}

/**
 * The delay before retrying after failed attempt `attempt` (1-based): a random value between half
 * and all of `baseMs × factor^(attempt−1)`, capped at `maxMs`. Jitter keeps a fleet of workers
 * that failed together from retrying together.
 *
 * The one backoff of taskwire: the task layer's retries and every transport's reconnect loop use it,
 * so a restarted broker sees its clients come back spread out, never in lockstep.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random = Math.random): number {
  const { baseMs = 200, maxMs = 30_000, factor = 2 } = options;
  const ceiling = Math.min(maxMs, baseMs * factor ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
