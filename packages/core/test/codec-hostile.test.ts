import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createCodec, DecodeError, MAX_PAYLOAD_DEPTH } from '../src/index.js';

const codec = createCodec();

/** Decode, returning the DecodeError (or failing the test on any other outcome than a value). */
function decodeError(bytes: Uint8Array): DecodeError | undefined {
  try {
    codec.decode(bytes);
    return undefined;
  } catch (error) {
    expect(DecodeError.isInstance(error), `expected DecodeError, got ${String(error)}`).toBe(true);
    return error as DecodeError;
  }
}

const hex = (text: string) => Buffer.from(text.replace(/\s/g, ''), 'hex');
const nested = (levels: number, open: number[], inner: number[]) =>
  Buffer.concat([Buffer.from(Array.from({ length: levels }, () => open).flat()), Buffer.from(inner)]);

describe('codec: hostile payload bytes', () => {
  it('refuses the structured-clone id/pointer extensions that make an array contain itself', () => {
    // [ref#0: [pointer to #0]]: 13 bytes that decoded to a self-containing array.
    expect(decodeError(hex('d6 69 00 00 00 00 91 d6 70 00 00 00 00'))).toBeDefined();
    expect(decodeError(hex('d6 69 00 00 00 00 01'))).toBeDefined();
    expect(decodeError(hex('91 d6 70 00 00 00 00'))).toBeDefined();
  });

  it.each([
    ['a record definition (0x72)', 'd4 72 40 91 a1 61'],
    ['bundled strings (0x62)', 'd6 62 00 00 00 08 a1 61'],
    ['an unknown extension', 'd4 05 00'],
    ['an ext32 declaring 4 GiB', 'c9 ff ff ff ff 74 00'],
  ])('refuses %s', (_label, bytes) => {
    expect(decodeError(hex(bytes))).toBeDefined();
  });

  it(`bounds nesting at ${MAX_PAYLOAD_DEPTH} levels, for arrays, maps and container extensions`, () => {
    expect(codec.decode(nested(MAX_PAYLOAD_DEPTH, [0x91], [0x01]))).toBeInstanceOf(Array);
    expect(decodeError(nested(MAX_PAYLOAD_DEPTH + 1, [0x91], [0x01]))?.message).toMatch(/nested/);
    expect(decodeError(nested(100_000, [0x91], [0x01]))?.message).toMatch(/nested/);
    expect(decodeError(nested(MAX_PAYLOAD_DEPTH + 1, [0x81, 0xa1, 0x6b], [0x01]))?.message).toMatch(/nested/);
    expect(decodeError(nested(100_000, [0xd4, 0x73, 0x00], [0x90]))?.message).toMatch(/nested/);
  });

  it('refuses at encode what decoding would refuse as too deep, and cycles, with TypeError', () => {
    const deepArray = (levels: number): unknown => (levels === 0 ? 1 : [deepArray(levels - 1)]);
    expect(codec.decode(codec.encode(deepArray(MAX_PAYLOAD_DEPTH)))).toEqual(deepArray(MAX_PAYLOAD_DEPTH));
    expect(() => codec.encode(deepArray(MAX_PAYLOAD_DEPTH + 1))).toThrow(TypeError);
    // A Map costs three levels (extension, entry list, entry) and a Set two, as decoding counts them.
    const deepMap = (levels: number): unknown => (levels === 0 ? 1 : new Map([[1, deepMap(levels - 1)]]));
    const fits = Math.floor(MAX_PAYLOAD_DEPTH / 3);
    expect(codec.decode(codec.encode(deepMap(fits)))).toEqual(deepMap(fits));
    expect(() => codec.encode(deepMap(fits + 1))).toThrow(TypeError);
    const cyclic: unknown[] = [];
    cyclic.push(cyclic);
    expect(() => codec.encode(cyclic)).toThrow(TypeError);
    const cyclicObject: Record<string, unknown> = {};
    cyclicObject.self = { back: cyclicObject };
    expect(() => codec.encode(cyclicObject)).toThrow(/contains itself/);
  });

  it.each([
    ['an array32 declaring 2^32 - 1 elements in 10 bytes', 'dd ff ff ff ff 01 01 01 01 01'],
    ['a map32 declaring 2^32 - 1 entries', 'df ff ff ff ff 01 01 01 01 01'],
    ['an array16 declaring more elements than bytes left', 'dc 00 05 01 01'],
    ['a str32 declaring 4 GiB', 'db ff ff ff ff 61'],
    ['a bin32 declaring 4 GiB', 'c6 ff ff ff ff 61'],
    ['a truncated length', 'da 00'],
    ['a reserved 0xc1 inside an array', '92 01 c1'],
  ])('refuses %s', (_label, bytes) => {
    expect(decodeError(hex(bytes))).toBeDefined();
  });

  it('never throws anything but DecodeError on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        decodeError(bytes);
      }),
      { numRuns: 20_000 },
    );
  });

  it('never throws anything but DecodeError on corrupted encodings of real values', () => {
    fc.assert(
      fc.property(
        legitValue,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        (value, flips) => {
          const bytes = Uint8Array.from(codec.encode(value));
          for (const [at, byte] of flips) bytes[at % bytes.length] = byte;
          decodeError(bytes);
        },
      ),
      { numRuns: 5_000 },
    );
  });

  it('still round-trips every value taskwire promises', () => {
    fc.assert(
      fc.property(legitValue, (value) => {
        expect(codec.decode(codec.encode(value))).toEqual(value);
      }),
      { numRuns: 2_000 },
    );
  });
});

/** Values the codec promises to round-trip (see the README's payload section). */
const legitValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double({ noDefaultInfinity: false }).filter((n) => !Object.is(n, -0)),
    fc.bigInt({ min: -(2n ** 100n), max: 2n ** 100n }),
    fc.string(),
    fc.date({ noInvalidDate: true }),
    fc.uint8Array({ maxLength: 32 }),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(
      fc.string().filter((key) => key !== '__proto__'),
      tie('value'),
      { maxKeys: 5 },
    ),
    fc
      .array(fc.tuple(fc.oneof(fc.string(), fc.integer()), tie('value')), { maxLength: 4 })
      .map((entries) => new Map(entries)),
    fc.array(fc.oneof(fc.string(), fc.integer()), { maxLength: 5 }).map((items) => new Set(items)),
  ),
})).value;
