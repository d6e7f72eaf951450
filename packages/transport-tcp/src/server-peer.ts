import type { Socket } from 'node:net';
import {
  AuthError,
  DecodeError,
  type EngineConsumer,
  type EngineQueue,
  type EngineSession,
  loadPayload,
  type MemoryEngine,
  type QueueOptions,
  type StoredPayload,
  storePayload,
  type Taken,
} from '@taskwire/core';
import { computeProof, createNonce, NONCE_BYTES, proofMatches } from './auth.js';
import { FrameReader } from './frame-reader.js';
import { Outbox } from './outbox.js';
import {
  asArray,
  asBytes,
  asString,
  asUint,
  BATCH_MAX_BYTES,
  BATCH_MAX_ITEMS,
  decodeFrame,
  errorCode,
  HANDSHAKE_MAX_FRAME_BYTES,
  HELLO_MAGIC,
  Op,
  PROTOCOL_VERSION,
  Push,
  Status,
} from './protocol.js';

/** What every peer of one server shares. */
export interface PeerContext {
  readonly engine: MemoryEngine<StoredPayload>;
  readonly key: Buffer;
  readonly maxFrameBytes: number;
  readonly handshakeTimeoutMs: number;
  readonly peers: Set<Peer>;
  readonly onClientError: ((error: Error, remoteAddress: string) => void) | undefined;
}

/** A declared queue on one connection; each has its own engine session, like a memory:// handle. */
interface Handle {
  readonly queue: EngineQueue<StoredPayload>;
  readonly session: EngineSession;
}

/** A remote consumer: deliveries the engine hands it wait here until the end of the turn. */
interface RemoteConsumer {
  readonly id: number;
  readonly handleId: number;
  consumer: EngineConsumer<StoredPayload> | undefined;
  pending: Taken<StoredPayload>[];
  queued: boolean;
}

/** Stop reading from a client while this much of our output to it is still unsent. */
const WRITE_BACKLOG_LIMIT = 16 * 1024 * 1024;

/**
 * The server side of one client socket: handshake, then requests against the engine.
 *
 * Anything malformed (undecodable bytes, an unknown op, a bad argument, an oversized frame)
 * closes this socket only; engine errors (a full queue, a conflicting declaration) are answered
 * as error responses and the connection carries on.
 */
export class Peer {
  private readonly reader = new FrameReader(HANDSHAKE_MAX_FRAME_BYTES);
  private readonly outbox: Outbox;
  private readonly nonce = createNonce();
  private readonly remote: string;
  private readonly handshakeTimer: NodeJS.Timeout;
  private authenticated = false;
  private closed = false;
  private readonly handles = new Map<number, Handle>();
  private readonly consumers = new Map<number, RemoteConsumer>();
  private readonly subscriptions = new Map<number, () => void>();
  private queuedConsumers: RemoteConsumer[] = [];

  constructor(
    private readonly context: PeerContext,
    private readonly socket: Socket,
  ) {
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`;
    this.outbox = new Outbox(socket, () => this.emitQueuedDeliveries());
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 15_000);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => socket.resume());
    socket.on('error', () => undefined); // 'close' follows and cleans up
    socket.on('close', () => this.release());
    this.handshakeTimer = setTimeout(
      () => this.abort(new AuthError(`no authentication within ${context.handshakeTimeoutMs} ms`)),
      context.handshakeTimeoutMs,
    );
    this.outbox.push([HELLO_MAGIC, PROTOCOL_VERSION, this.nonce, context.maxFrameBytes]);
  }

  /** Close the socket now (server shutdown). */
  destroy(): void {
    this.socket.destroy();
    this.release();
  }

  private onData(chunk: Buffer): void {
    if (this.socket.writableLength > WRITE_BACKLOG_LIMIT) this.socket.pause();
    try {
      this.reader.push(chunk, this.onFrame);
    } catch (error) {
      this.abort(error as Error);
      return;
    }
    // The replies to this chunk leave now, not at the end of the turn: work this chunk queued for later in the
    // turn (an in-process consumer handling the results just put, say) must not hold up the peer.
    if (!this.closed) this.outbox.flush();
  }

  private readonly onFrame = (body: Buffer): void => {
    const message = decodeFrame(body);
    if (this.authenticated) this.handle(message);
    else this.authenticate(message);
  };

  private authenticate(message: unknown[]): void {
    const [clientNonce, proof] = message;
    if (!(clientNonce instanceof Uint8Array) || clientNonce.length !== NONCE_BYTES) {
      throw new DecodeError('malformed handshake');
    }
    if (!proofMatches(computeProof(this.context.key, 'client', this.nonce, clientNonce), proof)) {
      this.outbox.push([false]);
      this.abort(new AuthError(`client ${this.remote} failed authentication (wrong authkey)`));
      return;
    }
    clearTimeout(this.handshakeTimer);
    this.authenticated = true;
    this.reader.setLimit(this.context.maxFrameBytes);
    this.outbox.push([true, computeProof(this.context.key, 'server', clientNonce, this.nonce)]);
  }

  /** Close this connection for a protocol or authentication failure, telling the client why. */
  private abort(error: Error): void {
    if (this.closed) return;
    this.context.onClientError?.(error, this.remote);
    if (this.authenticated) this.outbox.push([0, Push.FATAL, errorCode(error), error.message]);
    this.release();
    this.outbox.flush();
    this.socket.once('finish', () => this.socket.destroy());
    this.socket.end();
    // A peer that never reads would keep the half-closed socket forever.
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  /** Free everything this connection holds: unacked deliveries go back to their queues at once. */
  private release(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.handshakeTimer);
    this.reader.stop();
    for (const unsubscribe of this.subscriptions.values()) unsubscribe();
    this.subscriptions.clear();
    for (const handle of this.handles.values()) handle.session.close();
    this.handles.clear();
    this.consumers.clear();
    this.queuedConsumers = [];
    this.context.peers.delete(this);
  }

  private handle(message: unknown[]): void {
    const id = asUint(message[0], 'request id');
    let result: unknown;
    try {
      result = this.execute(message);
    } catch (error) {
      if (DecodeError.isInstance(error)) throw error;
      this.respondError(id, error);
      return;
    }
    if (result instanceof Promise) {
      result.then(
        (value) => this.respond(id, value),
        (error) => this.respondError(id, error),
      );
    } else this.respond(id, result);
  }

  private respond(id: number, value: unknown): void {
    if (this.closed) return;
    this.outbox.push(value === undefined ? [id, Status.OK] : [id, Status.OK, value]);
  }

  private respondError(id: number, error: unknown): void {
    if (this.closed) return;
    const message = error instanceof Error ? error.message : String(error);
    this.outbox.push([id, Status.ERROR, errorCode(error), message]);
  }

  /** Run one request; returns its result or a promise of it. Throws DecodeError for a bad request. */
  private execute(message: unknown[]): unknown {
    const op = message[1];
    switch (op) {
      case Op.DECLARE: {
        const handleId = asUint(message[2], 'handle');
        if (this.handles.has(handleId)) throw new DecodeError(`handle ${handleId} is already in use`);
        const queue = this.context.engine.declare(
          asString(message[3], 'queue name'),
          queueOptions(message[4]),
        );
        this.handles.set(handleId, { queue, session: this.context.engine.openSession() });
        return undefined;
      }
      case Op.PUT: {
        const { queue, session } = this.handleOf(message[2]);
        return queue.put(
          storePayload(asBytes(message[3], 'payload')),
          {
            priority: optionalNumber(message[4], 'priority'),
            delayMs: optionalNumber(message[5], 'delayMs'),
            timeoutMs: optionalNumber(message[6], 'timeoutMs'),
          },
          session,
        );
      }
      case Op.PUT_MANY: {
        const { queue, session } = this.handleOf(message[2]);
        const payloads = asArray(message[3], 'payloads');
        const stored = payloads.map((payload) => storePayload(asBytes(payload, 'payload')));
        let i = 0;
        while (i < stored.length && queue.tryPut(stored[i]!)) i++;
        if (i === stored.length) return undefined;
        // The queue is bounded and full: store the rest in order as room appears.
        return (async () => {
          for (; i < stored.length; i++) await queue.put(stored[i]!, {}, session);
        })();
      }
      case Op.GET: {
        const { queue, session } = this.handleOf(message[2]);
        return queue
          .get(session, optionalNumber(message[3], 'timeoutMs'))
          .then(({ tag, item }) => [tag, item.id, item.attempt, loadPayload(item.value)]);
      }
      case Op.ACK: {
        const tags = asArray(message[3], 'tags');
        const handle = this.handles.get(asUint(message[2], 'handle'));
        // A late ack on a closed handle is harmless: its deliveries were already requeued.
        if (handle) for (const tag of tags) handle.queue.ack(handle.session, asUint(tag, 'tag'));
        return undefined;
      }
      case Op.NACK: {
        const tag = asUint(message[3], 'tag');
        const handle = this.handles.get(asUint(message[2], 'handle'));
        handle?.queue.nack(handle.session, tag, {
          requeue: message[4] !== false,
          delayMs: optionalNumber(message[5], 'delayMs'),
          undecodable: message[6] === true,
          // Absent (an older client): the delivery counts, as it always did.
          countAttempt: message[7] !== false,
        });
        return undefined;
      }
      case Op.CONSUME: {
        const handleId = asUint(message[2], 'handle');
        const { queue, session } = this.handleOf(handleId);
        const id = asUint(message[3], 'consumer id');
        if (this.consumers.has(id)) throw new DecodeError(`consumer ${id} is already in use`);
        const remote: RemoteConsumer = { id, handleId, consumer: undefined, pending: [], queued: false };
        remote.consumer = queue.consume(session, asUint(message[4], 'prefetch'), (taken) => {
          remote.pending.push(taken);
          if (!remote.queued) {
            remote.queued = true;
            this.queuedConsumers.push(remote);
            this.outbox.schedule();
          }
        });
        this.consumers.set(id, remote);
        return undefined;
      }
      case Op.CANCEL: {
        const remote = this.consumers.get(asUint(message[2], 'consumer id'));
        if (remote) {
          // Deliveries already made go out before the reply, so nothing arrives after it.
          this.emitDeliveries(remote);
          remote.consumer?.cancel();
          this.consumers.delete(remote.id);
        }
        return undefined;
      }
      case Op.SIZE:
        return this.handleOf(message[2]).queue.size;
      case Op.PURGE:
        return this.handleOf(message[2]).queue.purge();
      case Op.CLOSE_QUEUE: {
        const handleId = asUint(message[2], 'handle');
        const handle = this.handles.get(handleId);
        if (!handle) return undefined;
        for (const remote of this.consumers.values()) {
          if (remote.handleId !== handleId) continue;
          remote.pending = []; // still in the session's in-flight set: requeued by close() below
          this.consumers.delete(remote.id);
        }
        handle.session.close();
        this.handles.delete(handleId);
        return undefined;
      }
      case Op.DELETE_QUEUE: {
        const { queue } = this.handleOf(message[2]);
        this.context.engine.deleteQueue(queue.name);
        return undefined;
      }
      case Op.PUBLISH:
        return this.context.engine.publish(
          asString(message[2], 'channel'),
          storePayload(asBytes(message[3], 'message')),
        );
      case Op.SUBSCRIBE: {
        const id = asUint(message[2], 'subscription id');
        if (this.subscriptions.has(id)) throw new DecodeError(`subscription ${id} is already in use`);
        const unsubscribe = this.context.engine.subscribe(asString(message[3], 'channel'), (value) => {
          this.outbox.push([0, Push.MESSAGE, id, loadPayload(value)]);
        });
        this.subscriptions.set(id, unsubscribe);
        return undefined;
      }
      case Op.UNSUBSCRIBE: {
        const id = asUint(message[2], 'subscription id');
        this.subscriptions.get(id)?.();
        this.subscriptions.delete(id);
        return undefined;
      }
      case Op.GOODBYE:
        // The client is closing: requeue its deliveries and reject its waiters before it goes.
        for (const handle of this.handles.values()) handle.session.close();
        this.handles.clear();
        this.consumers.clear();
        this.queuedConsumers = [];
        return undefined;
      default:
        throw new DecodeError(`unknown op ${String(op)}`);
    }
  }

  private handleOf(value: unknown): Handle {
    const handle = this.handles.get(asUint(value, 'handle'));
    if (!handle) throw new DecodeError(`unknown queue handle ${String(value)}`);
    return handle;
  }

  private emitQueuedDeliveries(): void {
    const queued = this.queuedConsumers;
    if (queued.length === 0) return;
    this.queuedConsumers = [];
    for (const remote of queued) this.emitDeliveries(remote);
  }

  /** Turn a consumer's waiting deliveries into DELIVER frames, split to bound each frame. */
  private emitDeliveries(remote: RemoteConsumer): void {
    remote.queued = false;
    const pending = remote.pending;
    if (pending.length === 0) return;
    remote.pending = [];
    let start = 0;
    while (start < pending.length) {
      const tags: number[] = [];
      const ids: string[] = [];
      const attempts: number[] = [];
      const payloads: Uint8Array[] = [];
      let bytes = 0;
      for (
        let i = start;
        i < pending.length && tags.length < BATCH_MAX_ITEMS && bytes < BATCH_MAX_BYTES;
        i++
      ) {
        const { tag, item } = pending[i]!;
        tags.push(tag);
        ids.push(item.id);
        attempts.push(item.attempt);
        payloads.push(loadPayload(item.value));
        bytes += item.value.length;
      }
      start += tags.length;
      this.outbox.push([0, Push.DELIVER, remote.id, tags, ids, attempts, payloads]);
    }
  }
}

function optionalNumber(value: unknown, what: string): number | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value !== 'number') throw new DecodeError(`${what} must be a number`);
  return value;
}

/** Queue options from the wire: only known keys, `null` as absent. */
function queueOptions(value: unknown): QueueOptions {
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new DecodeError('queue options must be a map');
  const raw = value as Record<string, unknown>;
  const options: QueueOptions = {};
  if (raw.order != null) options.order = raw.order as QueueOptions['order'];
  if (raw.maxsize != null) options.maxsize = raw.maxsize as number;
  if (raw.visibilityTimeoutMs != null) options.visibilityTimeoutMs = raw.visibilityTimeoutMs as number;
  if (raw.deadLetter != null) options.deadLetter = raw.deadLetter as string;
  return options;
}
