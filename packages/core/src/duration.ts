/**
 * Longest delay, timeout or visibility timeout taskwire accepts: 365 days, in milliseconds.
 * Longer waits are almost certainly a unit mistake (seconds or microseconds passed as ms), and a
 * bound keeps `Date.now() + duration` exact and within what every backend stores.
 */
export const MAX_DURATION_MS = 365 * 24 * 60 * 60 * 1000;

/**
 * Validate a duration in milliseconds: a finite number from 0 to {@link MAX_DURATION_MS}
 * (fractions allowed). Returns it unchanged.
 * @throws RangeError naming `option` for anything else (negative, NaN, Infinity, not a number).
 */
export function checkDuration(value: number, option: string): number {
  if (typeof value !== 'number' || !(value >= 0 && value <= MAX_DURATION_MS)) {
    throw new RangeError(
      `${option} must be a number of milliseconds from 0 to ${MAX_DURATION_MS} (365 days), got ${String(value)}`,
    );
  }
  return value;
}

/** {@link checkDuration} for an option that may be left out. */
export function checkOptionalDuration(value: number | undefined, option: string): number | undefined {
  return value === undefined ? undefined : checkDuration(value, option);
}
