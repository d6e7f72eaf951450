import type { Codec } from '../codec.js';

/** What {@link decodeOrDeadLetter} returns for a payload it could not decode (and has dead-lettered). */
export const UNDECODABLE: unique symbol = Symbol('taskwire.undecodable');

/**
 * Decode a delivered payload. One that cannot be decoded is never handed to a handler and never dropped: it is
 * passed to `deadLetter(reference, context)` (which moves it to {@link undecodableTarget}) and {@link UNDECODABLE} is
 * returned, so a `get()` keeps waiting for a good item and a consumer moves on.
 *
 * `deadLetter` may be async; its failure is swallowed (the item stays held and comes back through the
 * backend's own redelivery). Pass a function bound once per queue, the item as `reference` and, when settling
 * needs a second thing (the channel it arrived on), that as `context`: no closure nor object per item.
 */
export function decodeOrDeadLetter<R, C = undefined>(
  codec: Codec,
  payload: Uint8Array,
  deadLetter: (reference: R, context: C) => unknown,
  reference: R,
  context?: C,
): unknown {
  try {
    return codec.decode(payload);
  } catch {
    try {
      const moved = deadLetter(reference, context as C);
      if (moved instanceof Promise) moved.catch(ignore);
    } catch {
      // as for a rejection: the backend redelivers it
    }
    return UNDECODABLE;
  }
}

/**
 * Where an undecodable item of queue `name` goes: its `deadLetter` queue, else `<name>.dead`. (An item nacked
 * without requeue goes to `deadLetter` too, but is dropped when there is none.)
 */
export function undecodableTarget(name: string, deadLetter: string | undefined): string {
  return deadLetter ?? `${name}.dead`;
}

function ignore(): void {}
