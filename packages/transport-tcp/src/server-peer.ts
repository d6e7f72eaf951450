import type { Socket } from 'node:net';
import { AuthError, ConnectionClosedError, DecodeError, type QueueOptions } from '@taskwire/core';
import type { MemoryEngine, StoredPayload } from '@taskwire/core/engine';
import type { Admission } from './admission.js';
import { computeProof, createNonce, NONCE_BYTES, proofMatches } from './auth.js';
import { EngineClient } from './engine-client.js';
import { FrameReader } from './frame-reader.js';
import { Outbox } from './outbox.js';
import { OutputGuard, type OutputLimits } from './output-guard.js';
import {
  asArray,
  asBytes,
  asString,
  asUint,
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
  /** Bounds on unsent output to one peer. */
  readonly output: OutputLimits;
  /** Largest prefetch window a consumer gets. */
  readonly maxPrefetch: number;
  readonly peers: Set<Peer>;
  readonly admission: Admission;
  readonly onClientError: ((error: Error, remoteAddress: string) => void) | undefined;
}

/**
 * The server side of one client socket: handshake, then requests against the engine.
 *
 * Anything malformed (undecodable bytes, an unknown op, a bad argument, an oversized frame)
 * closes this socket only; engine errors (a full queue, a conflicting declaration) are answered
 * as error responses and the connection carries on. A peer that does not read what it is sent gets no more
 * deliveries or broadcasts once its unsent output passes the bound, and is dropped if it stays there.
 */
export class Peer {
  private readonly reader = new FrameReader(HANDSHAKE_MAX_FRAME_BYTES);
  private readonly outbox: Outbox;
  private readonly client: EngineClient;
  private readonly guard: OutputGuard;
  private readonly nonce = createNonce();
  private readonly remote: string;
  private readonly handshakeTimer: NodeJS.Timeout;
  private authenticated = false;
  private closed = false;

  constructor(
    private readonly context: PeerContext,
    private readonly socket: Socket,
  ) {
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`;
    this.outbox = new Outbox(socket, () => this.client.emitQueuedDeliveries(), context.maxFrameBytes, {
      written: () => this.guard.written(),
      flushed: () => this.guard.flushed(),
    });
    this.client = new EngineClient(context.engine, this.outbox, context.maxPrefetch, (bytes) =>
      this.guard.add(bytes),
    );
    this.guard = new OutputGuard(socket, context.output, {
      onHold: () => this.client.holdOutput(),
      onResume: () => this.client.resumeOutput(),
      onStalled: () => this.dropStalled(),
    });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 15_000);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
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
    this.guard.check();
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
    if (!this.context.admission.promote(this.socket)) {
      // Not an AuthError (the client would never retry): the server is full, try again later.
      this.abort(new ConnectionClosedError('all connection slots for authenticated clients are taken'));
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

  /** The peer's backed-up output did not drain within the deadline: drop it now, its deliveries go back. */
  private dropStalled(): void {
    if (this.closed) return;
    const { maxOutputBytes, stalledTimeoutMs } = this.context.output;
    this.context.onClientError?.(
      new ConnectionClosedError(
        `dropped: over ${maxOutputBytes} bytes unsent, not drained within ${stalledTimeoutMs} ms (the client stopped reading); ${this.client.droppedMessages} broadcast messages missed`,
      ),
      this.remote,
    );
    this.release();
    this.socket.destroy();
  }

  /** Free everything this connection holds: unacked deliveries go back to their queues at once. */
  private release(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.handshakeTimer);
    this.guard.dispose();
    this.reader.stop();
    this.client.release();
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

  /**
   * Check one request's arguments and run it; returns its result or a promise of it.
   * Throws DecodeError for a bad request.
   */
  private execute(message: unknown[]): unknown {
    const op = message[1];
    const client = this.client;
    switch (op) {
      case Op.DECLARE:
        return client.declare(
          asUint(message[2], 'handle'),
          asString(message[3], 'queue name'),
          queueOptions(message[4]),
        );
      case Op.PUT:
        return client.put(asUint(message[2], 'handle'), asBytes(message[3], 'payload'), {
          priority: optionalNumber(message[4], 'priority'),
          delayMs: optionalNumber(message[5], 'delayMs'),
          timeoutMs: optionalNumber(message[6], 'timeoutMs'),
        });
      case Op.PUT_MANY:
        return client.putMany(asUint(message[2], 'handle'), asArray(message[3], 'payloads'));
      case Op.GET:
        return client.get(asUint(message[2], 'handle'), optionalNumber(message[3], 'timeoutMs'));
      case Op.ACK: {
        const tags = asArray(message[3], 'tags');
        return client.ack(asUint(message[2], 'handle'), tags);
      }
      case Op.NACK: {
        const tag = asUint(message[3], 'tag');
        return client.nack(asUint(message[2], 'handle'), tag, {
          requeue: message[4] !== false,
          delayMs: optionalNumber(message[5], 'delayMs'),
          undecodable: message[6] === true,
          // Absent (an older client): the delivery counts, as it always did.
          countAttempt: message[7] !== false,
        });
      }
      case Op.CONSUME: {
        const handleId = asUint(message[2], 'handle');
        return client.consume(handleId, asUint(message[3], 'consumer id'), asUint(message[4], 'prefetch'));
      }
      case Op.CANCEL:
        return client.cancel(asUint(message[2], 'consumer id'));
      case Op.SIZE:
        return client.size(asUint(message[2], 'handle'));
      case Op.PURGE:
        return client.purge(asUint(message[2], 'handle'));
      case Op.CLOSE_QUEUE:
        return client.closeQueue(asUint(message[2], 'handle'));
      case Op.DELETE_QUEUE:
        return client.deleteQueue(asUint(message[2], 'handle'));
      case Op.PUBLISH:
        return client.publish(asString(message[2], 'channel'), asBytes(message[3], 'message'));
      case Op.SUBSCRIBE:
        return client.subscribe(asUint(message[2], 'subscription id'), asString(message[3], 'channel'));
      case Op.UNSUBSCRIBE:
        return client.unsubscribe(asUint(message[2], 'subscription id'));
      case Op.LIST_QUEUES:
        return client.listQueues();
      case Op.STATS:
        return client.stats(asString(message[2], 'queue name'));
      case Op.PEEK:
        return client.peek(asString(message[2], 'queue name'), asUint(message[3], 'limit'));
      case Op.MOVE_ITEMS:
        return client.moveItems(
          asString(message[2], 'source queue name'),
          asString(message[3], 'target queue name'),
          optionalNumber(message[4], 'limit'),
          message[5] === null || message[5] === undefined
            ? undefined
            : asArray(message[5], 'ids').map((id) => asString(id, 'item id')),
        );
      case Op.PURGE_QUEUE:
        return client.purgeQueue(asString(message[2], 'queue name'));
      case Op.GOODBYE:
        // The client is closing: requeue its deliveries and reject its waiters before it goes.
        return client.closeQueues();
      default:
        throw new DecodeError(`unknown op ${String(op)}`);
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
