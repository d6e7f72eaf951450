import { FrameTooLargeError } from '@taskwire/core';
import { describe, expect, it } from 'vitest';
import { FrameReader } from '../src/frame-reader.js';
import { decodeMessage, FrameEncoder } from '../src/wire.js';

describe('frames', () => {
  it('round-trip every type the protocol uses', () => {
    const message = [
      0,
      127,
      128,
      255,
      256,
      65_535,
      65_536,
      2 ** 32 - 1,
      2 ** 32,
      2 ** 53 - 1,
      -1,
      -32,
      -33,
      -(2 ** 31),
      -(2 ** 40),
      1.5,
      true,
      false,
      null,
      '',
      'ascii-id-12',
      'x'.repeat(40),
      'héllo 你好 🎉',
      Buffer.from([0, 1, 255]),
      Buffer.alloc(70_000, 3),
      Array.from({ length: 20 }, (_, i) => i),
      { order: 'lifo', maxsize: 3, __proto__x: 1 },
    ];
    const encoder = new FrameEncoder();
    encoder.frame(message);
    const bytes = encoder.take();
    expect(bytes.readUInt32BE(0)).toBe(bytes.length - 4);
    const decoded = decodeMessage(bytes.subarray(4)) as unknown[];
    expect(decoded.slice(0, -1)).toEqual(message.slice(0, -1));
    expect({ ...(decoded.at(-1) as object) }).toEqual(message.at(-1));
  });

  it('a "__proto__" key is data, not a prototype', () => {
    const body = Buffer.from([0x81, 0xa9, ...Buffer.from('__proto__'), 0x81, 0xa1, 0x78, 0x01]);
    const decoded = decodeMessage(body) as Record<string, unknown>;
    expect(Object.getPrototypeOf(decoded)).toBe(null);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('the reader reassembles frames split at every byte and refuses an oversized header at once', () => {
    const encoder = new FrameEncoder();
    for (let i = 0; i < 5; i++) encoder.frame([i, 'frame', Buffer.alloc(i * 10, i)]);
    const stream = encoder.take();
    const reader = new FrameReader(1024);
    const seen: unknown[] = [];
    for (let i = 0; i < stream.length; i++) {
      reader.push(stream.subarray(i, i + 1), (body) => seen.push((decodeMessage(body) as unknown[])[0]));
    }
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(1025);
    expect(() => new FrameReader(1024).push(header, () => undefined)).toThrow(FrameTooLargeError);
  });
});
