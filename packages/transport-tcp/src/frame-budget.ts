import { FrameTooLargeError } from '@taskwire/core';

/**
 * How many bytes of a frame its payloads may use. Both directions of a connection obey one limit: the
 * `maxFrameBytes` the server announces in its hello (the server's readers and the client's reader both refuse a
 * bigger frame), so each side sizes what it sends by it.
 *
 * A frame is its fixed part (ids, op, handle, array headers: at most {@link FRAME_FIXED_BYTES}) plus one entry per
 * item ({@link putCost}, {@link deliveryCost}, {@link ACK_COST}). A batch takes items while their entries fit in
 * {@link batchBudget}, and always at least one: a single payload of at most {@link payloadLimit} bytes fits in
 * any frame it travels in (a put, a delivery, a get reply, a broadcast), because its entry is at most
 * {@link FRAME_OVERHEAD_BYTES} − {@link FRAME_FIXED_BYTES} bytes bigger than the payload.
 */

/** Bytes the protocol reserves in every frame around one payload: `maxFrameBytes` minus this is the largest payload. */
export const FRAME_OVERHEAD_BYTES = 256;

/** Most bytes of a frame's fixed part: array header, request id, op, handle or consumer id, four array headers. */
export const FRAME_FIXED_BYTES = 32;

/** Items per batch frame, whatever their size (keeps array headers within {@link FRAME_FIXED_BYTES}). */
export const BATCH_MAX_ITEMS = 4096;

/** Payload bytes per batch frame on a server with a large limit: bounds one write and one decode. */
export const BATCH_MAX_BYTES = 1024 * 1024;

/** Largest msgpack header of a bin or str. */
const HEADER_BYTES = 5;

/** Largest msgpack number (a tag is a safe integer: a double beyond 32 bits). */
const NUMBER_BYTES = 9;

/** Frame bytes of one acked tag. */
export const ACK_COST = NUMBER_BYTES;

/** The largest encoded payload a connection whose frame limit is `maxFrameBytes` carries. */
export function payloadLimit(maxFrameBytes: number): number {
  return maxFrameBytes - FRAME_OVERHEAD_BYTES;
}

/** How many bytes of items one batch frame may carry (a single item may exceed it, up to {@link payloadLimit}). */
export function batchBudget(maxFrameBytes: number): number {
  return Math.min(BATCH_MAX_BYTES, maxFrameBytes - FRAME_OVERHEAD_BYTES);
}

/** Frame bytes of one payload in a PUT_MANY. */
export function putCost(payloadBytes: number): number {
  return HEADER_BYTES + payloadBytes;
}

/** Frame bytes of one item in a DELIVER push: tag, id, attempt and payload. */
export function deliveryCost(idBytes: number, payloadBytes: number): number {
  return NUMBER_BYTES + HEADER_BYTES + idBytes + NUMBER_BYTES + HEADER_BYTES + payloadBytes;
}

/** Frame bytes of one item in a PEEK reply: an item array header, id, payload, attempts, state, readyAt, priority. */
export function peekCost(idBytes: number, payloadBytes: number): number {
  return (
    HEADER_BYTES + deliveryCost(idBytes, payloadBytes) + HEADER_BYTES + 'delayed'.length + 2 * NUMBER_BYTES
  );
}

/**
 * Refuse a payload too large for the connection's frames, before it is sent.
 * @throws FrameTooLargeError naming both sizes; the connection is untouched.
 */
export function checkPayloadFits(payload: Uint8Array, maxFrameBytes: number, what: string): void {
  const limit = payloadLimit(maxFrameBytes);
  if (payload.length > limit) {
    throw new FrameTooLargeError(
      `${what} of ${payload.length} bytes exceeds the server's limit of ${limit} bytes (its maxFrameBytes ${maxFrameBytes} minus ${FRAME_OVERHEAD_BYTES}; raise the server's maxFrameBytes)`,
    );
  }
}
