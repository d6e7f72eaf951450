/**
 * Where a queue lives on JetStream. A queue name may hold characters a stream name or a subject token cannot
 * (`.`, `*`, `>`, spaces, `/`): each such byte, and `_` itself, is written `_XX` (hex), so the mapping is
 * reversible and {@link queueNameOf} reads a stream name back into its queue name for `listQueues`.
 */

const SAFE = /[A-Za-z0-9-]/;

/** `tasks.results.ab` → `tasks_2Eresults_2Eab`. */
export function encodeName(name: string): string {
  let out = '';
  for (const char of name) {
    if (SAFE.test(char)) {
      out += char;
      continue;
    }
    for (const byte of Buffer.from(char)) out += `_${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The inverse of {@link encodeName}. */
export function decodeName(encoded: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    if (encoded[i] === '_') {
      bytes.push(Number.parseInt(encoded.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(encoded.charCodeAt(i));
  }
  return Buffer.from(bytes).toString();
}

/**
 * The stream and subjects of one queue. One work-queue stream holds all of a queue's items, ready and held ones
 * on `subject`, delayed ones on `delaySubject`: one stream is one sequence, so a bounded put's expected last
 * sequence covers both kinds of waiting item.
 */
export interface QueueNames {
  readonly stream: string;
  /** Ready and held items, served by {@link CONSUMER}. */
  readonly subject: string;
  /** Delayed items until they fall due, taken by the movers through {@link DELAY_CONSUMER}. */
  readonly delaySubject: string;
}

/** The durable pull consumer every handle of a queue shares, filtered to the queue's subject. */
export const CONSUMER = 'taskwire';
/** The durable pull consumer of a queue's delayed items, filtered to its delay subject. */
export const DELAY_CONSUMER = 'taskwire-delays';

/** The stream and subjects of queue `name` under `prefix`. */
export function queueNames(prefix: string, name: string): QueueNames {
  const encoded = encodeName(name);
  return {
    stream: `${prefix}_Q_${encoded}`,
    subject: `${prefix}.q.${encoded}`,
    delaySubject: `${prefix}.d.${encoded}`,
  };
}

/** The queue whose main stream is `stream`, or undefined for any other stream. */
export function queueNameOf(prefix: string, stream: string): string | undefined {
  const head = `${prefix}_Q_`;
  return stream.startsWith(head) ? decodeName(stream.slice(head.length)) : undefined;
}

/** The core NATS subject of broadcast channel `channel`. */
export function channelSubject(prefix: string, channel: string): string {
  return `${prefix}.b.${encodeName(channel)}`;
}

/** The object-store bucket holding payloads too large for one message. */
export function blobBucket(prefix: string): string {
  return `${prefix}_blobs`;
}

/** Headers taskwire puts on a message. */
export const HEADER = {
  /** The item's id, stable across returns and moves. */
  id: 'Tw-Id',
  /** Deliveries before this copy (a returned item is published again carrying them). */
  prior: 'Tw-Prior',
  /** When a delayed item falls due (epoch ms). */
  due: 'Tw-Due',
  /** The object-store key of a payload stored apart. */
  blob: 'Tw-Blob',
} as const;
