import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from 'nats';

/** The shared NATS server with JetStream. */
export const NATS_URL = process.env.TASKWIRE_NATS_URL ?? 'nats://127.0.0.1:4222';

/** A stream and subject prefix no other run uses. */
export function uniquePrefix(label: string): string {
  return `twt_${label}_${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

/** A raw client of the shared server, for planting messages and cleaning up. */
export function adminClient(url = NATS_URL): Promise<NatsConnection> {
  return connect({ servers: new URL(url).host });
}

/** Delete every stream (queues, delays, the blob bucket) under `prefix`. */
export async function deleteStreams(nc: NatsConnection, prefix: string): Promise<void> {
  const jsm = await nc.jetstreamManager();
  const doomed: string[] = [];
  for await (const stream of jsm.streams.names()) {
    if (stream.startsWith(`${prefix}_`) || stream === `OBJ_${prefix}_blobs`) doomed.push(stream);
  }
  await Promise.all(doomed.map((stream) => jsm.streams.delete(stream).catch(() => undefined)));
}
