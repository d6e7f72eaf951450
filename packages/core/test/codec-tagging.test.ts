import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { createCodec } from '../src/index.js';

// The codec walks a value for Maps (and Buffers) before msgpackr writes it, and skips primitives without a call:
// whatever sits next to them, a Map, Set, Date or BigInt nested anywhere must still come back as itself.
describe('codec tagging', () => {
  const codec = createCodec();

  const primitive = fc.oneof(
    fc.integer(),
    // msgpackr writes -0 as the integer 0 (as it always has): not what this test is about.
    fc.double({ noNaN: true }).filter((n) => !Object.is(n, -0)),
    fc.string(),
    fc.boolean(),
    fc.constant(null),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
    fc.date({ noInvalidDate: true }),
  );
  const key = fc.string().filter((k) => k !== '__proto__');
  const { value } = fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, primitive, tie('container')),
    container: fc.oneof(
      fc.array(tie('value'), { maxLength: 6 }),
      fc.dictionary(key, tie('value'), { maxKeys: 6 }),
      fc
        .array(fc.tuple(fc.oneof(fc.string(), fc.integer()), tie('value')), { maxLength: 4 })
        .map((entries) => new Map(entries)),
      fc.uniqueArray(fc.oneof(fc.string(), fc.integer()), { maxLength: 4 }).map((items) => new Set(items)),
      fc.uint8Array({ maxLength: 8 }),
    ),
  }));

  it('round-trips Maps, Sets, Dates and BigInts nested anywhere among primitives', () => {
    fc.assert(
      fc.property(value, (v) => {
        expect(codec.decode(codec.encode(v))).toEqual(v);
      }),
      { numRuns: 300 },
    );
  });

  it('tags a Map inside an array of primitives, and leaves the array untouched', () => {
    const inner = new Map<string, unknown>([
      ['when', new Date(5)],
      ['big', 2n ** 70n],
    ]);
    const tuple = ['id', 'kind', 7, [1, 'two', inner], 3, 'reply', 1_700_000_000_000];
    const decoded = codec.decode(codec.encode(tuple)) as unknown[];
    expect(decoded).toEqual(tuple);
    expect((decoded[3] as unknown[])[2]).toBeInstanceOf(Map);
    expect((tuple[3] as unknown[])[2]).toBe(inner);
  });

  it('writes primitives-only values exactly as msgpackr does', () => {
    const packr = new Packr({
      useRecords: false,
      moreTypes: true,
      int64AsType: 'bigint',
      mapsAsObjects: true,
    });
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer(), fc.string(), fc.boolean(), fc.constant(null))), (tuple) => {
        expect(Buffer.from(codec.encode(tuple))).toEqual(Buffer.from(packr.pack(tuple)));
        expect(Buffer.from(codec.encode({ tuple }))).toEqual(Buffer.from(packr.pack({ tuple })));
      }),
    );
  });
});
