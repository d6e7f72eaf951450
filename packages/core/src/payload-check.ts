import { DecodeError } from './errors.js';

/**
 * Deepest nesting of arrays, maps and container extensions (Map, Set, Error, RegExp) a payload
 * may use. Far beyond any real task, and shallow enough that whatever decodes can be walked and
 * re-encoded recursively without exhausting the stack.
 */
export const MAX_PAYLOAD_DEPTH = 512;

// Extension types the codec writes (msgpackr with `moreTypes`, plus taskwire's Map). Everything
// else is refused, above all msgpackr's structured-clone id (0x69) and pointer (0x70), which
// build shared references and cycles, and its records (0x72) and bundled strings (0x62).
const EXT_UNDEFINED = 0x00;
const EXT_MAP = 0x0d;
const EXT_BIGINT = 0x42;
const EXT_ERROR = 0x65;
const EXT_SET = 0x73;
const EXT_TYPED_ARRAY = 0x74;
const EXT_REGEXP = 0x78;
const EXT_TIMESTAMP = 0xff;

// Size in bytes of what follows each fixed-size head byte 0xc0–0xdf (-1: variable, handled below).
const FIXED_BODY = new Int8Array(32).fill(-1);
for (const [head, size] of [
  [0xc0, 0], // nil
  [0xc2, 0], // false
  [0xc3, 0], // true
  [0xca, 4], // float32
  [0xcb, 8], // float64
  [0xcc, 1], // uint8…
  [0xcd, 2],
  [0xce, 4],
  [0xcf, 8],
  [0xd0, 1], // int8…
  [0xd1, 2],
  [0xd2, 4],
  [0xd3, 8],
] as const) {
  FIXED_BODY[head - 0xc0] = size;
}

// Values still expected at each open nesting level. Decoding is synchronous, so one scratch
// stack serves every call.
const pending = new Float64Array(MAX_PAYLOAD_DEPTH + 1);

function refuse(reason: string): never {
  throw new DecodeError(`undecodable payload: ${reason}`);
}

/**
 * Check that `bytes` is exactly one msgpack value taskwire could have written, before msgpackr
 * builds anything: nesting at most {@link MAX_PAYLOAD_DEPTH} deep, every declared length and
 * element count within the bytes that remain, no reserved byte, and only the extension types the
 * codec writes. One pass, no allocation; string and binary bodies are skipped, not read.
 * @throws DecodeError for anything else.
 */
export function checkPayload(bytes: Uint8Array): void {
  const end = bytes.length;
  let pos = 0;
  let depth = 0;
  pending[0] = 1;
  for (;;) {
    if (pending[depth] === 0) {
      if (depth === 0) break;
      depth--;
      continue;
    }
    pending[depth]!--;
    if (pos >= end) refuse('unexpected end of data');
    const head = bytes[pos++]!;
    let children = 0;
    if (head < 0x80 || head >= 0xe0) {
      // positive or negative fixint
    } else if (head < 0x90) {
      children = (head & 0x0f) * 2;
    } else if (head < 0xa0) {
      children = head & 0x0f;
    } else if (head < 0xc0) {
      pos += head & 0x1f;
    } else {
      const fixed = FIXED_BODY[head - 0xc0]!;
      if (fixed >= 0) {
        pos += fixed;
      } else {
        switch (head) {
          case 0xc1:
            refuse('reserved msgpack byte 0xc1');
            break;
          case 0xc4: // bin8
          case 0xd9: // str8
            pos += 1 + readLength(bytes, pos, 1);
            break;
          case 0xc5: // bin16
          case 0xda: // str16
            pos += 2 + readLength(bytes, pos, 2);
            break;
          case 0xc6: // bin32
          case 0xdb: // str32
            pos += 4 + readLength(bytes, pos, 4);
            break;
          case 0xc7: // ext8, ext16, ext32: length, type, data
          case 0xc8:
          case 0xc9: {
            const lengthSize = head === 0xc7 ? 1 : head === 0xc8 ? 2 : 4;
            children = checkExtension(bytes, pos + lengthSize);
            pos += lengthSize + 1 + readLength(bytes, pos, lengthSize);
            break;
          }
          case 0xd4: // fixext 1, 2, 4, 8, 16
          case 0xd5:
          case 0xd6:
          case 0xd7:
          case 0xd8: {
            const size = 1 << (head - 0xd4);
            children = checkExtension(bytes, pos);
            pos += 1 + size;
            break;
          }
          case 0xdc: // array16
            children = readLength(bytes, pos, 2);
            pos += 2;
            break;
          case 0xdd: // array32
            children = readLength(bytes, pos, 4);
            pos += 4;
            break;
          case 0xde: // map16
            children = readLength(bytes, pos, 2) * 2;
            pos += 2;
            break;
          default: // 0xdf map32
            children = readLength(bytes, pos, 4) * 2;
            pos += 4;
        }
      }
    }
    if (pos > end) refuse('a declared length runs past the end of the data');
    if (children > 0) {
      // Every value takes at least one byte: a count the rest cannot hold is a lie.
      if (children > end - pos) refuse('a declared element count runs past the end of the data');
      if (depth === MAX_PAYLOAD_DEPTH) refuse(`nested deeper than ${MAX_PAYLOAD_DEPTH} levels`);
      pending[++depth] = children;
    }
  }
  if (pos !== end) refuse('trailing bytes after the value');
}

/**
 * A big-endian unsigned length of `size` bytes at `pos`. Past the end it returns the whole input
 * length, so the caller's end-of-data check refuses it.
 */
function readLength(bytes: Uint8Array, pos: number, size: 1 | 2 | 4): number {
  if (pos + size > bytes.length) return bytes.length;
  if (size === 1) return bytes[pos]!;
  if (size === 2) return (bytes[pos]! << 8) | bytes[pos + 1]!;
  return bytes[pos]! * 0x1000000 + ((bytes[pos + 1]! << 16) | (bytes[pos + 2]! << 8) | bytes[pos + 3]!);
}

/**
 * Check the extension whose type byte is at `typeAt`; returns how many values follow it as its
 * contents (msgpackr reads Map, Set, Error and RegExp from the next value, not the ext data).
 */
function checkExtension(bytes: Uint8Array, typeAt: number): number {
  if (typeAt >= bytes.length) refuse('unexpected end of data');
  switch (bytes[typeAt]!) {
    case EXT_MAP:
    case EXT_SET:
    case EXT_ERROR:
    case EXT_REGEXP:
      return 1;
    case EXT_UNDEFINED:
    case EXT_BIGINT:
    case EXT_TYPED_ARRAY:
    case EXT_TIMESTAMP:
      return 0;
    default:
      return refuse(`extension type ${bytes[typeAt]} is not one taskwire writes`);
  }
}
