import { QueueFullError } from '@taskwire/core';
import type { MsgHdrs } from 'nats';
import type { QueueNames } from './names.js';
import type { QueueContext } from './queue-context.js';

/** JetStream's error code for a publish whose expected last sequence is not the stream's. */
const WRONG_LAST_SEQUENCE = 10071;
/** First and longest pause between two looks for room on a full queue. */
const FIRST_PAUSE_MS = 10;
const LONGEST_PAUSE_MS = 250;

/** One item for a bounded queue: its subject (ready or delay) and its message, stowed (a large payload stored apart). */
export interface BoundedItem {
  readonly subject: string;
  readonly payload: Uint8Array;
  readonly headers: MsgHdrs | undefined;
}

/** Where a bounded put stands: how many of its items are stored. */
export interface BoundedPut {
  readonly items: readonly BoundedItem[];
  stored: number;
}

/**
 * What a handle learned from its last bounded publish: the sequence the server gave it and the room left as it
 * counted. Still true later if nothing else reached the stream (room only grows), which a publish expecting that
 * sequence proves: the next put of the handle needs no count of its own.
 */
export interface KnownRoom {
  expected: number;
  room: number;
}

/**
 * Publish `put.items` into a queue of at most `queue.maxsize` waiting items (ready + delayed), in order, each once
 * there is room. Exact across producers without a lock: the waiting items are counted after reading the stream's
 * last sequence, and each publish expects that sequence (`Nats-Expected-Last-Sequence`) or the one the publish
 * before it got, so the server refuses it when anything else reached the stream since the count; the count is then
 * taken again. Room only grows meanwhile (items are taken, or fall due within the count), so a publish the server
 * accepts never overshoots.
 * @param deadline epoch ms after which a put still without room rejects with `QueueFullError`
 * @param check throws when the handle or its connection closed (a waiting put ends with it)
 * @param memo where the handle keeps its {@link KnownRoom} between puts (taken while in use)
 */
export async function publishWithRoom(
  context: QueueContext,
  queue: { readonly name: string; readonly names: QueueNames; readonly maxsize: number },
  put: BoundedPut,
  deadline: number,
  check: () => void,
  memo: { known?: KnownRoom | undefined } = {},
): Promise<void> {
  let pause = FIRST_PAUSE_MS;
  while (put.stored < put.items.length) {
    check();
    let known = memo.known;
    memo.known = undefined;
    if (!known || known.room <= 0) {
      const { lastSeq, waiting } = await context.room(queue.names);
      known = { expected: lastSeq, room: queue.maxsize - waiting };
    }
    if (known.room <= 0) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new QueueFullError(`queue "${queue.name}" is full (maxsize ${queue.maxsize})`);
      }
      await sleep(Math.min(pause, remaining));
      pause = Math.min(pause * 2, LONGEST_PAUSE_MS);
      continue;
    }
    pause = FIRST_PAUSE_MS;
    try {
      while (known.room > 0 && put.stored < put.items.length) {
        const item = put.items[put.stored]!;
        const ack = await context.publishStowed(item.subject, item.payload, item.headers, known.expected);
        known.expected = ack.seq;
        known.room--;
        put.stored++;
      }
      memo.known = known;
    } catch (error) {
      if (apiCode(error) !== WRONG_LAST_SEQUENCE) throw error;
      // something else reached the stream first: count again at once
    }
  }
}

function apiCode(error: unknown): number | undefined {
  return (error as { api_error?: { err_code?: number } })?.api_error?.err_code;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
