/**
 * How the engine stores an encoded payload. A Uint8Array costs ~120 bytes of object overhead on
 * top of its contents, more than a tiny task itself; a one-byte (latin1) string costs ~16. A
 * million queued tiny tasks is the difference between fitting in 200 MiB or not.
 */
export type StoredPayload = Uint8Array | string;

/** Payloads up to this size are stored as latin1 strings. */
const SMALL_PAYLOAD_BYTES = 1024;

/** Convert encoded bytes to their stored form (never keeps a large foreign buffer alive). */
export function storePayload(bytes: Uint8Array): StoredPayload {
  if (bytes.length <= SMALL_PAYLOAD_BYTES) {
    // A Buffer (what the codec returns) is read as it is: a second view per put is measurable garbage.
    const view = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    return view.toString('latin1');
  }
  // A view into a much bigger buffer (a network frame holding many payloads) would pin all of it.
  return bytes.length * 2 < bytes.buffer.byteLength ? bytes.slice() : bytes;
}

/** The encoded bytes of a stored payload. */
export function loadPayload(stored: StoredPayload): Uint8Array {
  return typeof stored === 'string' ? Buffer.from(stored, 'latin1') : stored;
}
