import { DecodeError } from '@taskwire/core';

/**
 * The msgpack subset frames are written in: nil, booleans, numbers, UTF-8 strings, bin, arrays
 * and string-keyed maps. Payloads are already-encoded bytes and travel as bin, so this layer
 * never needs extensions, and refusing them keeps decoding free of any constructor but the basics.
 *
 * Why not msgpackr here: core's codec (rightly, for payloads) writes `Uint8Array` as a typed-array
 * extension and copies it on decode, while frames want bin in and zero-copy views out.
 */

/** Most values (scalars and containers) one frame may hold; bounds what decoding allocates. */
export const MAX_FRAME_VALUES = 65_536;

/** Deepest nesting a frame may use (protocol frames need 3). */
export const MAX_FRAME_DEPTH = 8;

const INITIAL_CAPACITY = 16 * 1024;

/**
 * Writes length-prefixed frames into one growing buffer; {@link take} hands the bytes over.
 */
export class FrameEncoder {
  private buf = Buffer.allocUnsafe(INITIAL_CAPACITY);
  private pos = 0;

  /** Bytes written since the last {@link take}. */
  get length(): number {
    return this.pos;
  }

  /** Append one frame: a 4-byte big-endian length, then `message` in msgpack. */
  frame(message: readonly unknown[]): void {
    this.ensure(4);
    const start = this.pos;
    this.pos += 4;
    this.write(message, 0);
    this.buf.writeUInt32BE(this.pos - start - 4, start);
  }

  /** Everything written so far; the encoder starts a fresh buffer (the old one may still be in flight). */
  take(): Buffer {
    const out = this.buf.subarray(0, this.pos);
    this.buf = Buffer.allocUnsafe(Math.max(INITIAL_CAPACITY, Math.min(this.buf.length, 1024 * 1024)));
    this.pos = 0;
    return out;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  private write(value: unknown, depth: number): void {
    if (depth > MAX_FRAME_DEPTH) throw new TypeError('frame nested too deeply');
    switch (typeof value) {
      case 'number':
        this.number(value);
        return;
      case 'string':
        this.string(value);
        return;
      case 'boolean':
        this.ensure(1);
        this.buf[this.pos++] = value ? 0xc3 : 0xc2;
        return;
      case 'undefined':
        this.ensure(1);
        this.buf[this.pos++] = 0xc0;
        return;
      case 'object':
        if (value === null) {
          this.ensure(1);
          this.buf[this.pos++] = 0xc0;
        } else if (value instanceof Uint8Array) this.bin(value);
        else if (Array.isArray(value)) {
          this.header(value.length, 0x90, 0xdc, 0xdd);
          for (const item of value) this.write(item, depth + 1);
        } else {
          const entries = Object.entries(value).filter(([, v]) => v !== undefined);
          this.header(entries.length, 0x80, 0xde, 0xdf);
          for (const [k, v] of entries) {
            this.string(k);
            this.write(v, depth + 1);
          }
        }
        return;
      default:
        throw new TypeError(`cannot put a ${typeof value} in a frame`);
    }
  }

  private header(length: number, fix: number, code16: number, code32: number): void {
    this.ensure(5);
    const buf = this.buf;
    if (length < 16) buf[this.pos++] = fix | length;
    else if (length < 0x10000) {
      buf[this.pos] = code16;
      buf.writeUInt16BE(length, this.pos + 1);
      this.pos += 3;
    } else {
      buf[this.pos] = code32;
      buf.writeUInt32BE(length, this.pos + 1);
      this.pos += 5;
    }
  }

  private number(value: number): void {
    this.ensure(9);
    const buf = this.buf;
    if (Number.isInteger(value)) {
      if (value >= 0) {
        if (value < 0x80) {
          buf[this.pos++] = value;
          return;
        }
        if (value < 0x100) {
          buf[this.pos++] = 0xcc;
          buf[this.pos++] = value;
          return;
        }
        if (value < 0x10000) {
          buf[this.pos] = 0xcd;
          buf.writeUInt16BE(value, this.pos + 1);
          this.pos += 3;
          return;
        }
        if (value < 0x100000000) {
          buf[this.pos] = 0xce;
          buf.writeUInt32BE(value, this.pos + 1);
          this.pos += 5;
          return;
        }
      } else if (value >= -0x20) {
        buf[this.pos++] = value & 0xff;
        return;
      } else if (value >= -0x80000000) {
        buf[this.pos] = 0xd2;
        buf.writeInt32BE(value, this.pos + 1);
        this.pos += 5;
        return;
      }
    }
    buf[this.pos] = 0xcb;
    buf.writeDoubleBE(value, this.pos + 1);
    this.pos += 9;
  }

  private string(value: string): void {
    const length = value.length;
    // Short ASCII strings (ids, queue names) are written byte by byte: cheaper than a UTF-8 call.
    if (length < 32) {
      this.ensure(1 + length);
      const buf = this.buf;
      const start = this.pos;
      buf[start] = 0xa0 | length;
      let i = 0;
      for (; i < length; i++) {
        const code = value.charCodeAt(i);
        if (code >= 0x80) break;
        buf[start + 1 + i] = code;
      }
      if (i === length) {
        this.pos = start + 1 + length;
        return;
      }
    }
    const bytes = Buffer.byteLength(value);
    this.header32(bytes, 0xa0, 32, 0xd9, 0xda, 0xdb);
    this.ensure(bytes);
    this.buf.write(value, this.pos, 'utf8');
    this.pos += bytes;
  }

  private bin(value: Uint8Array): void {
    this.header32(value.length, -1, 0, 0xc4, 0xc5, 0xc6);
    this.ensure(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
  }

  /** A str/bin header: fix form below `fixLimit`, then 8-, 16- and 32-bit lengths. */
  private header32(
    length: number,
    fix: number,
    fixLimit: number,
    c8: number,
    c16: number,
    c32: number,
  ): void {
    this.ensure(5);
    const buf = this.buf;
    if (length < fixLimit) buf[this.pos++] = fix | length;
    else if (length < 0x100) {
      buf[this.pos++] = c8;
      buf[this.pos++] = length;
    } else if (length < 0x10000) {
      buf[this.pos] = c16;
      buf.writeUInt16BE(length, this.pos + 1);
      this.pos += 3;
    } else {
      buf[this.pos] = c32;
      buf.writeUInt32BE(length, this.pos + 1);
      this.pos += 5;
    }
  }
}

/**
 * Decode one frame body. Bin values are views into `body` (no copy). Refuses, without allocating
 * for them: more than {@link MAX_FRAME_VALUES} values, nesting deeper than {@link MAX_FRAME_DEPTH},
 * a length past the end, trailing bytes, extensions and the reserved byte 0xc1. A "msgpack bomb"
 * (a few bytes promising billions of elements) therefore fails at its header.
 *
 * @throws DecodeError naming what was wrong.
 */
export function decodeMessage(body: Buffer): unknown {
  const state = { pos: 0, values: 0 };
  const value = read(body, state, 0);
  if (state.pos !== body.length) malformed('trailing bytes after the message');
  return value;
}

function malformed(why: string): never {
  throw new DecodeError(`malformed frame: ${why}`);
}

function read(buf: Buffer, state: { pos: number; values: number }, depth: number): unknown {
  if (++state.values > MAX_FRAME_VALUES) malformed(`more than ${MAX_FRAME_VALUES} values`);
  const end = buf.length;
  if (state.pos >= end) malformed('truncated');
  const byte = buf[state.pos++]!;
  if (byte < 0x80) return byte;
  if (byte >= 0xe0) return byte - 0x100;
  if (byte < 0x90) return readMap(buf, state, byte & 0x0f, depth);
  if (byte < 0xa0) return readArray(buf, state, byte & 0x0f, depth);
  if (byte < 0xc0) return readString(buf, state, byte & 0x1f);
  const need = (n: number) => {
    if (state.pos + n > end) malformed('truncated');
    const at = state.pos;
    state.pos += n;
    return at;
  };
  switch (byte) {
    case 0xc0:
      return null;
    case 0xc2:
      return false;
    case 0xc3:
      return true;
    case 0xc4:
      return readBin(buf, state, buf[need(1)]!);
    case 0xc5:
      return readBin(buf, state, buf.readUInt16BE(need(2)));
    case 0xc6:
      return readBin(buf, state, buf.readUInt32BE(need(4)));
    case 0xca:
      return buf.readFloatBE(need(4));
    case 0xcb:
      return buf.readDoubleBE(need(8));
    case 0xcc:
      return buf[need(1)]!;
    case 0xcd:
      return buf.readUInt16BE(need(2));
    case 0xce:
      return buf.readUInt32BE(need(4));
    case 0xcf:
      return Number(buf.readBigUInt64BE(need(8)));
    case 0xd0:
      return buf.readInt8(need(1));
    case 0xd1:
      return buf.readInt16BE(need(2));
    case 0xd2:
      return buf.readInt32BE(need(4));
    case 0xd3:
      return Number(buf.readBigInt64BE(need(8)));
    case 0xd9:
      return readString(buf, state, buf[need(1)]!);
    case 0xda:
      return readString(buf, state, buf.readUInt16BE(need(2)));
    case 0xdb:
      return readString(buf, state, buf.readUInt32BE(need(4)));
    case 0xdc:
      return readArray(buf, state, buf.readUInt16BE(need(2)), depth);
    case 0xdd:
      return readArray(buf, state, buf.readUInt32BE(need(4)), depth);
    case 0xde:
      return readMap(buf, state, buf.readUInt16BE(need(2)), depth);
    case 0xdf:
      return readMap(buf, state, buf.readUInt32BE(need(4)), depth);
    case 0xc1:
      return malformed('reserved byte 0xc1');
    default:
      return malformed(`extension type 0x${byte.toString(16)} is not allowed in a frame`);
  }
}

function readBin(buf: Buffer, state: { pos: number }, length: number): Buffer {
  if (state.pos + length > buf.length) malformed('bin past the end of the frame');
  const start = state.pos;
  state.pos += length;
  return buf.subarray(start, state.pos);
}

function readString(buf: Buffer, state: { pos: number }, length: number): string {
  const start = state.pos;
  const end = start + length;
  if (end > buf.length) malformed('string past the end of the frame');
  state.pos = end;
  if (length < 24) {
    // Short ASCII (ids): build it directly instead of crossing into the UTF-8 decoder.
    let out = '';
    for (let i = start; i < end; i++) {
      const code = buf[i]!;
      if (code >= 0x80) return buf.toString('utf8', start, end);
      out += String.fromCharCode(code);
    }
    return out;
  }
  return buf.toString('utf8', start, end);
}

function readArray(
  buf: Buffer,
  state: { pos: number; values: number },
  length: number,
  depth: number,
): unknown[] {
  // Every element takes at least one byte, so a count beyond what is left is a lie.
  if (length > buf.length - state.pos) malformed('array length past the end of the frame');
  if (depth >= MAX_FRAME_DEPTH) malformed('nested too deeply');
  const out = new Array(length);
  for (let i = 0; i < length; i++) out[i] = read(buf, state, depth + 1);
  return out;
}

function readMap(
  buf: Buffer,
  state: { pos: number; values: number },
  length: number,
  depth: number,
): Record<string, unknown> {
  if (length * 2 > buf.length - state.pos) malformed('map length past the end of the frame');
  if (depth >= MAX_FRAME_DEPTH) malformed('nested too deeply');
  // No prototype: a "__proto__" key is just a key.
  const out: Record<string, unknown> = Object.create(null);
  for (let i = 0; i < length; i++) {
    const key = read(buf, state, depth + 1);
    if (typeof key !== 'string') malformed('map keys must be strings');
    out[key] = read(buf, state, depth + 1);
  }
  return out;
}
