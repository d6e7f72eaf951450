/**
 * The stored form of a queue item, `id|attempt|score|payload`: the one layout the queue scripts
 * (`lua/includes/item.lua`) and this transport agree on. `id` never contains `|`; `attempt`
 * counts the deliveries so far; `score` is empty except in a priority queue, where the put script
 * fills in `(255 − priority) · 2⁴⁴ + sequence`; `payload` is the codec's bytes and may contain
 * `|`, so it is the rest of the buffer.
 */

const SEPARATOR = 0x7c; // '|'
/** One priority's band of scores (2⁴⁴ sequence numbers). */
const PRIORITY_UNIT = 2 ** 44;

/** What a stored item carries besides its attempt count (a take reports that per delivery). */
export interface DecodedItem {
  readonly id: string;
  /** 0–255; 0 outside priority queues. */
  readonly priority: number;
  readonly payload: Buffer;
}

/** A new item as a put stores it: attempt 0, score left for the put script. */
export function encodeItem(id: string, payload: Uint8Array): Buffer {
  const header = Buffer.from(`${id}|0||`);
  return Buffer.concat([header, payload], header.length + payload.length);
}

/** Split a stored item. */
export function decodeItem(stored: Buffer): DecodedItem {
  const a = stored.indexOf(SEPARATOR);
  const b = stored.indexOf(SEPARATOR, a + 1);
  const c = stored.indexOf(SEPARATOR, b + 1);
  const score = stored.toString('latin1', b + 1, c);
  return {
    id: stored.toString('latin1', 0, a),
    priority: score === '' ? 0 : 255 - Math.floor(Number(score) / PRIORITY_UNIT),
    payload: stored.subarray(c + 1),
  };
}

/** The name of one delivery of item `id` (its field in the queue's `inflight` hash). */
export function deliveryField(id: string, attempt: number): string {
  return `${id}|${attempt}`;
}
