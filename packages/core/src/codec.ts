import { createRequire } from 'node:module';
import type msgpackrModule from 'msgpackr/index-no-eval';
import { DecodeError, FrameTooLargeError } from './errors.js';
import { checkPayload, MAX_PAYLOAD_DEPTH } from './payload-check.js';

// Required, not imported: msgpackr's no-eval build is one large CommonJS file, and `import` of it
// first runs Node's CommonJS export scanner over all of it, which costs every process that loads
// @taskwire/core (each CLI start) about 30 ms more than `require` (see docs/decisions.md).
const msgpackr = createRequire(import.meta.url)('msgpackr/index-no-eval') as typeof msgpackrModule;

/** Default largest encoded payload: 64 MiB. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;

/** Options of {@link createCodec}. */
export interface CodecOptions {
  /**
   * Largest encoded payload `encode` accepts.
   * @default 67108864 (64 MiB)
   */
  maxPayloadBytes?: number;
}

/** Turns values into bytes and back. */
export interface Codec {
  /** The limit `encode` enforces. */
  readonly maxPayloadBytes: number;
  /**
   * Encode; throws `FrameTooLargeError` over the limit and `TypeError` for a value nested deeper
   * than `MAX_PAYLOAD_DEPTH` or containing itself.
   */
  encode(value: unknown): Uint8Array;
  /**
   * Decode; throws `DecodeError` for bytes that are not exactly one msgpack value taskwire could
   * have written (see `MAX_PAYLOAD_DEPTH`; reference and unknown extensions are refused).
   */
  decode(bytes: Uint8Array): unknown;
}

// msgpack has one map type, so a Map and a plain object would decode alike. Maps travel as an
// extension instead; msgpackr writes Map natively before consulting extensions, so encode()
// swaps each Map for this marker class first (copying only the paths that contain one).
class MapEntries {
  constructor(readonly entries: [unknown, unknown][]) {}
}
const MAP_EXTENSION_TYPE = 0x0d;
msgpackr.addExtension({
  Class: MapEntries,
  type: MAP_EXTENSION_TYPE,
  write: (value: MapEntries) => value.entries,
  read: (entries: [unknown, unknown][]) => new Map(Array.isArray(entries) ? entries : []),
});

/**
 * Swap Maps for {@link MapEntries} (see above) and Buffers for plain views. `depth` counts the
 * containers around `value` the way decoding does (a Map is three: its extension, the entry list
 * and the entry; a Set two), so what decoding would refuse as too deep, or a cycle, is refused here
 * at put instead of being dead-lettered later.
 */
function checkDepth(depth: number): void {
  if (depth > MAX_PAYLOAD_DEPTH) {
    throw new TypeError(
      `cannot encode a value nested deeper than ${MAX_PAYLOAD_DEPTH} levels (or one that contains itself)`,
    );
  }
}

function tagMaps(value: unknown, depth: number): unknown {
  if (typeof value !== 'object' || value === null) return value;
  // The no-eval build does not recognise Buffer (a Uint8Array subclass) and would write its
  // toJSON() form; a plain view over the same memory encodes as msgpack bin.
  if (Buffer.isBuffer(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof Map) {
    const entries: [unknown, unknown][] = [];
    checkDepth(depth + 3);
    for (const [k, v] of value) entries.push([tagMaps(k, depth + 3), tagMaps(v, depth + 3)]);
    return new MapEntries(entries);
  }
  if (Array.isArray(value)) {
    checkDepth(depth + 1);
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      // Primitives need no tagging: no call for them (a task tuple is mostly strings and numbers).
      if (typeof item !== 'object' || item === null) continue;
      const tagged = tagMaps(item, depth + 1);
      if (tagged !== item) {
        copy ??= value.slice();
        copy[i] = tagged;
      }
    }
    return copy ?? value;
  }
  if (value instanceof Set) {
    checkDepth(depth + 2);
    let changed = false;
    const items = [...value].map((item) => {
      const tagged = tagMaps(item, depth + 2);
      if (tagged !== item) changed = true;
      return tagged;
    });
    return changed ? new Set(items) : value;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  checkDepth(depth + 1);
  let copy: Record<string, unknown> | undefined;
  // for…in without allocating a key array: plain objects have no enumerable inherited keys.
  for (const key in value) {
    const child = (value as Record<string, unknown>)[key];
    if (typeof child !== 'object' || child === null) continue;
    const tagged = tagMaps(child, depth + 1);
    if (tagged !== child) {
      copy ??= { ...(value as Record<string, unknown>) };
      copy[key] = tagged;
    }
  }
  return copy ?? value;
}

/**
 * Create the msgpack codec taskwire uses on every transport.
 *
 * Records are off (no shared structures between versions), decoding uses msgpackr's build that
 * never generates code, and `__proto__` keys are renamed by msgpackr rather than written.
 * Round-trips strings, numbers, bigint, Date, Uint8Array/Buffer, Map, Set and nested objects.
 */
export function createCodec(options: CodecOptions = {}): Codec {
  const maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  const packr = new msgpackr.Packr({
    useRecords: false,
    moreTypes: true,
    int64AsType: 'bigint',
    mapsAsObjects: true,
  });
  return {
    maxPayloadBytes,
    encode(value) {
      const bytes = packr.pack(tagMaps(value, 0));
      if (bytes.length > maxPayloadBytes) {
        throw new FrameTooLargeError(
          `payload of ${bytes.length} bytes exceeds the limit of ${maxPayloadBytes} bytes (raise maxPayloadBytes)`,
        );
      }
      return bytes;
    },
    decode(bytes) {
      // msgpackr trusts its input: it would follow reference extensions into cycles and recurse
      // as deep as the bytes say. Hostile bytes are refused before it builds anything.
      checkPayload(bytes);
      let value: unknown;
      try {
        value = packr.unpack(bytes);
      } catch (error) {
        throw new DecodeError(`undecodable payload: ${(error as Error).message}`, { cause: error });
      }
      return value;
    },
  };
}

/** The shared codec with the default limit. */
export const defaultCodec: Codec = createCodec();

/**
 * Wrap a broadcast handler so it receives decoded messages. A broadcast has no queue to dead-letter
 * to, so an undecodable message is dropped rather than thrown into the transport's event loop.
 */
export function decodingHandler<T>(codec: Codec, handler: (message: T) => void): (bytes: Uint8Array) => void {
  return (bytes) => {
    let message: T;
    try {
      message = codec.decode(bytes) as T;
    } catch {
      return;
    }
    handler(message);
  };
}
