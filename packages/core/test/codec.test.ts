import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { createCodec, DecodeError, FrameTooLargeError } from '../src/index.js';

describe('codec', () => {
  const codec = createCodec();

  it('round-trips the msgpack types taskwire promises', () => {
    const value = {
      s: 'unicode ✓ 漢字 🎉',
      n: [0, -1, 2 ** 31, 2 ** 53, 1.5, Number.NaN],
      big: [5n, -(2n ** 63n), 2n ** 64n - 1n, 2n ** 80n],
      date: new Date(1_700_000_000_123),
      bytes: new Uint8Array([1, 2, 3]),
      buffer: Buffer.from('hi'),
      map: new Map<unknown, unknown>([[1, new Map([['inner', [new Map()]]])]]),
      set: new Set([1, 'two']),
      nested: { a: { b: { c: [null, true, { d: 'e' }] } } },
    };
    const decoded = codec.decode(codec.encode(value)) as typeof value;
    expect(decoded).toEqual({ ...value, buffer: new Uint8Array(Buffer.from('hi')) });
    expect(decoded.map.get(1)).toBeInstanceOf(Map);
    expect(decoded.big[3]).toBe(2n ** 80n);
    expect(Object.getPrototypeOf(decoded.nested)).toBe(Object.prototype);
  });

  it('does not mutate the value it encodes', () => {
    const value = { m: new Map([['k', 1]]) };
    codec.encode(value);
    expect(value.m).toBeInstanceOf(Map);
  });

  it('never writes __proto__ while decoding', () => {
    // {"__proto__": {"polluted": 1}} written by hand: msgpack map(1), str "__proto__", map(1), "polluted": 1
    const bytes = Buffer.concat([
      Buffer.from([0x81, 0xa9]),
      Buffer.from('__proto__'),
      Buffer.from([0x81, 0xa8]),
      Buffer.from('polluted'),
      Buffer.from([0x01]),
    ]);
    const decoded = codec.decode(bytes) as Record<string, unknown>;
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((decoded as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('never generates code, even for record-encoded input', () => {
    // A sender using msgpackr records would make the default build compile a reader with new Function.
    const recordBytes = new Packr({ useRecords: true, sequential: true }).pack(
      Array.from({ length: 10 }, (_, i) => ({ key: i, other: 'x' })),
    );
    const RealFunction = globalThis.Function;
    let constructed = 0;
    globalThis.Function = new Proxy(RealFunction, {
      construct(target, args) {
        constructed++;
        return Reflect.construct(target, args);
      },
    });
    try {
      try {
        codec.decode(recordBytes);
      } catch (error) {
        expect(DecodeError.isInstance(error)).toBe(true);
      }
    } finally {
      globalThis.Function = RealFunction;
    }
    expect(constructed).toBe(0);
  });

  it.each([
    ['empty input', []],
    ['a truncated array', [0x92, 0x01]],
    ['trailing bytes', [0x01, 0x02]],
    ['the reserved byte 0xc1', [0xc1]],
    ['an array32 claiming 4 billion items', [0xdd, 0xff, 0xff, 0xff, 0xff, 0x01]],
    ['a str32 claiming 4 GiB', [0xdb, 0xff, 0xff, 0xff, 0xff, 0x61]],
  ])('rejects %s with DecodeError', (_label, bytes) => {
    expect(() => codec.decode(Uint8Array.from(bytes))).toThrow(DecodeError);
  });

  it('refuses a payload over the limit with FrameTooLargeError', () => {
    const small = createCodec({ maxPayloadBytes: 100 });
    expect(() => small.encode(new Uint8Array(200))).toThrow(FrameTooLargeError);
    expect(() => small.encode(new Uint8Array(50))).not.toThrow();
    expect(createCodec().maxPayloadBytes).toBe(64 * 1024 * 1024);
  });
});
