/**
 * How batches cross the wire cheaply with `pg`, which sends a `Buffer` parameter in binary format and every other
 * value as text, and reads every result as text: payloads go out as a binary `bytea[]` (no hex text to build here
 * or to parse on the server), ids and tokens as ready-made array literals (no per-element quoting), and a take
 * comes back as one row whose arrays are split here.
 */

/** PostgreSQL's type oid of `bytea`, the element type a binary `bytea[]` names. */
const BYTEA_OID = 17;
/** A binary one-dimensional array's header: dimensions, has-nulls flag, element type, length, lower bound. */
const ARRAY_HEADER_BYTES = 20;

/** `payloads` as a `bytea[]` in PostgreSQL's binary array format (`array_recv`), for a binary parameter. */
export function byteaArray(payloads: readonly Uint8Array[]): Buffer {
  let size = ARRAY_HEADER_BYTES;
  for (const payload of payloads) size += 4 + payload.byteLength;
  const out = Buffer.allocUnsafe(size);
  out.writeInt32BE(1, 0);
  out.writeInt32BE(0, 4);
  out.writeInt32BE(BYTEA_OID, 8);
  out.writeInt32BE(payloads.length, 12);
  out.writeInt32BE(1, 16);
  let offset = ARRAY_HEADER_BYTES;
  for (const payload of payloads) {
    out.writeInt32BE(payload.byteLength, offset);
    out.set(payload, offset + 4);
    offset += 4 + payload.byteLength;
  }
  return out;
}

/** The most items in one stored chunk (see the `0005-items-in-chunks` migration). */
const CHUNK_ITEMS = 64;
/** A chunk takes no more items once its payloads reach this many bytes (a larger payload has one of its own). */
const CHUNK_BYTES = 64 * 1024;

/**
 * Where the chunks of a put end, as an `integer[]` literal of 1-based item numbers: at most CHUNK_ITEMS items each,
 * and no item joins a chunk its payload would take past CHUNK_BYTES.
 */
export function chunkEnds(payloads: readonly Uint8Array[]): string {
  const ends: number[] = [];
  let items = 0;
  let bytes = 0;
  for (let i = 0; i < payloads.length; i++) {
    const size = payloads[i]!.byteLength;
    if (items === CHUNK_ITEMS || (items > 0 && bytes + size > CHUNK_BYTES)) {
      ends.push(i);
      items = 0;
      bytes = 0;
    }
    items++;
    bytes += size;
  }
  if (items > 0) ends.push(payloads.length);
  return `{${ends.join(',')}}`;
}

/** Integers (as decimal strings) as an array literal, e.g. `{1,2,3}`: the text `pg` sends for a `bigint[]`. */
export function integerArray(values: readonly string[]): string {
  return `{${values.join(',')}}`;
}

/** The items of one take, from its one reply row; an empty take's row is NULL but for `next_ms`. */
export interface TakeRow {
  /** The lease's token, as text (NULL: an empty take). */
  readonly token: string | null;
  /** `bigint[]` as text: `{1,2,3}`. */
  readonly ids: string;
  /** `integer[]` as text: each item's attempts before this take. */
  readonly attempts: string;
  /** `integer[]` as text: the byte length of each payload. */
  readonly lengths: string;
  /** Every payload, end to end. */
  readonly payloads: Buffer;
  /** An empty take's: the ms until the next delayed item or lapsed lease, NULL when none waits. */
  readonly next_ms: number | null;
}

/** One taken item. */
export interface TakenItem {
  readonly id: string;
  readonly attempt: number;
  readonly payload: Uint8Array;
  readonly token: string;
}

/** Split a take's row into its items, in serving order (each payload a view of the row's buffer). */
export function splitTake(row: TakeRow): TakenItem[] {
  const ids = elements(row.ids);
  const attempts = elements(row.attempts);
  const lengths = elements(row.lengths);
  const items = new Array<TakenItem>(ids.length);
  let offset = 0;
  for (let i = 0; i < ids.length; i++) {
    const end = offset + Number(lengths[i]);
    items[i] = {
      id: ids[i]!,
      attempt: Number(attempts[i]) + 1,
      payload: row.payloads.subarray(offset, end),
      token: row.token!,
    };
    offset = end;
  }
  return items;
}

/** The elements of a one-dimensional array of integers as PostgreSQL prints it (no quotes, no NULLs). */
function elements(literal: string): string[] {
  return literal.slice(1, -1).split(',');
}
