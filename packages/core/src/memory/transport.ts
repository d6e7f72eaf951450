import { type Codec, createCodec, decodingHandler } from '../codec.js';
import { checkOptionalDuration } from '../duration.js';
import { ConfigError, ConnectionClosedError } from '../errors.js';
import { ConnectionEvents } from '../kit/connection-events.js';
import { runHandler } from '../kit/delivery.js';
import { peekedBody, resolvePeekLimit } from '../kit/inspection.js';
import { resolvePrefetch } from '../kit/queue-options.js';
import { TickBatcher } from '../kit/tick-batcher.js';
import { decodeOrDeadLetter, UNDECODABLE } from '../kit/undecodable.js';
import type {
  BroadcastHandler,
  Capabilities,
  Connection,
  ConnectOptions,
  ConsumeOptions,
  ConsumerHandle,
  Delivery,
  DeliveryHandler,
  DistributedQueue,
  GetOptions,
  MoveOptions,
  PeekedItem,
  PeekOptions,
  PutOptions,
  QueueOptions,
  QueueStats,
  Subscription,
  Transport,
} from '../types.js';
import { MemoryDelivery } from './delivery.js';
import { MemoryEngine } from './engine.js';
import type { TaggedItem } from './engine-item.js';
import type { EngineQueue } from './engine-queue.js';
import type { EngineSession } from './engine-session.js';
import { loadPayload, type StoredPayload, storePayload } from './payload.js';

/** Everything: the memory transport is the reference implementation of the contract. */
export const MEMORY_CAPABILITIES: Capabilities = Object.freeze({
  lifo: true,
  priority: true,
  maxsize: true,
  delayed: true,
  persistent: false,
  deadLetter: true,
  broadcast: true,
  stats: true,
  peek: true,
  listQueues: true,
});

const engines = new Map<string, MemoryEngine<StoredPayload>>();

/** The engine behind `memory://<name>`; connections to the same name in one process share it. */
export function memoryEngine(name = 'default'): MemoryEngine<StoredPayload> {
  let engine = engines.get(name);
  if (!engine) {
    engine = new MemoryEngine();
    engines.set(name, engine);
  }
  return engine;
}

function engineName(url: string | undefined): string {
  if (url === undefined) return 'default';
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`invalid memory URL "${url}": expected memory:// or memory://<name>`);
  }
  if (parsed.protocol !== 'memory:') {
    throw new ConfigError(`invalid memory URL "${url}": the scheme must be memory://`);
  }
  return parsed.hostname || 'default';
}

class MemoryQueue<T> implements DistributedQueue<T> {
  private readonly session: EngineSession;
  private readonly consumers = new Set<ConsumerHandle>();

  constructor(
    private readonly engine: MemoryEngine<StoredPayload>,
    private readonly queue: EngineQueue<StoredPayload>,
    private readonly codec: Codec,
  ) {
    this.session = engine.openSession();
  }

  get name(): string {
    return this.queue.name;
  }

  put(item: T, options: PutOptions = {}): Promise<void> {
    if (this.session.closed)
      return Promise.reject(new ConnectionClosedError(`queue "${this.name}" is closed`));
    try {
      return this.queue.put(storePayload(this.codec.encode(item)), options, this.session);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async putMany(items: Iterable<T>, options: PutOptions = {}): Promise<void> {
    if (this.session.closed) throw new ConnectionClosedError(`queue "${this.name}" is closed`);
    checkOptionalDuration(options.timeoutMs, 'timeoutMs');
    // Everything is encoded first, so an item that cannot be encoded stores none of the batch; then each item
    // goes in at once while there is room, and waits for room only on a full bounded queue.
    const values = Array.from(items, (item) => storePayload(this.codec.encode(item)));
    for (const value of values) {
      if (!this.queue.tryPut(value, options)) await this.queue.put(value, options, this.session);
    }
  }

  async get(options: GetOptions = {}): Promise<Delivery<T>> {
    checkOptionalDuration(options.timeoutMs, 'timeoutMs');
    const deadline = options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs;
    for (;;) {
      const remaining = deadline === undefined ? undefined : Math.max(0, deadline - Date.now());
      const delivery = this.toDelivery(await this.queue.get(this.session, remaining));
      // An undecodable item has been dead-lettered; keep waiting for a good one.
      if (delivery) return delivery;
    }
  }

  async consume(handler: DeliveryHandler<T>, options: ConsumeOptions = {}): Promise<ConsumerHandle> {
    // Deliveries reach the handler on the next turn, in one batch: the code that put them (a TCP peer's batch of
    // results, say) finishes its turn, and its replies leave, before the consumer's work begins.
    const batch = new TickBatcher<TaggedItem<StoredPayload>>((takens) => {
      for (const taken of takens) {
        const delivery = this.toDelivery(taken);
        if (delivery) void runHandler(handler, delivery);
      }
    });
    const consumer = this.queue.consume(this.session, resolvePrefetch(options.prefetch), (taken) =>
      batch.add(taken),
    );
    const handle: ConsumerHandle = {
      cancel: async () => {
        consumer.cancel();
        this.consumers.delete(handle);
        // Taken but not yet handed over: give them back as never delivered.
        for (const taken of batch.take()) {
          await this.toDelivery(taken)?.nack({ requeue: true, countAttempt: false });
        }
      },
    };
    this.consumers.add(handle);
    return handle;
  }

  async size(): Promise<number> {
    return this.queue.size;
  }

  async purge(): Promise<number> {
    return this.queue.purge();
  }

  async close(): Promise<void> {
    if (this.session.closed) return;
    // Puts the engine has accepted are already stored; puts still waiting for room on a full
    // queue are rejected with ConnectionClosedError by the session close below.
    for (const consumer of this.consumers) await consumer.cancel();
    this.session.close();
  }

  async delete(): Promise<void> {
    await this.close();
    this.engine.deleteQueue(this.name);
  }

  private toDelivery(taken: TaggedItem<StoredPayload>): MemoryDelivery<T> | undefined {
    const body = decodeOrDeadLetter(
      this.codec,
      loadPayload(taken.item.value),
      this.deadLetterUndecodable,
      taken,
    );
    if (body === UNDECODABLE) return undefined;
    return new MemoryDelivery(this.queue, this.session, taken, body as T);
  }

  private readonly deadLetterUndecodable = (taken: TaggedItem<StoredPayload>): void => {
    this.queue.nack(this.session, taken.tag, { requeue: false, undecodable: true });
  };
}

class MemoryConnection extends ConnectionEvents implements Connection {
  private readonly queues = new Set<MemoryQueue<any>>();
  private readonly subscriptions = new Set<() => void>();
  private closed = false;

  constructor(
    readonly transport: Transport,
    private readonly engine: MemoryEngine<StoredPayload>,
    private readonly codec: Codec,
  ) {
    super();
  }

  async queue<T = unknown>(name: string, options?: QueueOptions): Promise<DistributedQueue<T>> {
    this.assertOpen();
    const queue = new MemoryQueue<T>(this.engine, this.engine.declare(name, options), this.codec);
    this.queues.add(queue);
    return queue;
  }

  async publish<T = unknown>(channel: string, message: T): Promise<void> {
    this.assertOpen();
    this.engine.publish(channel, storePayload(this.codec.encode(message)));
  }

  async subscribe<T = unknown>(channel: string, handler: BroadcastHandler<T>): Promise<Subscription> {
    this.assertOpen();
    const deliver = decodingHandler(this.codec, handler);
    const unsubscribe = this.engine.subscribe(channel, (stored) => deliver(loadPayload(stored)));
    this.subscriptions.add(unsubscribe);
    return {
      unsubscribe: async () => {
        unsubscribe();
        this.subscriptions.delete(unsubscribe);
      },
    };
  }

  async listQueues(): Promise<string[]> {
    this.assertOpen();
    return this.engine.queueNames().sort();
  }

  async stats(name: string): Promise<QueueStats> {
    this.assertOpen();
    return this.engine.stats(name);
  }

  async peek<T = unknown>(name: string, options: PeekOptions = {}): Promise<PeekedItem<T>[]> {
    this.assertOpen();
    const limit = resolvePeekLimit(options.limit);
    return this.engine.peek(name, limit).map(({ value, ...item }) => ({
      ...item,
      body: peekedBody(this.codec, loadPayload(value)) as T | Uint8Array,
    }));
  }

  async moveItems(from: string, to: string, options?: MoveOptions): Promise<number> {
    this.assertOpen();
    return this.engine.moveItems(from, to, options);
  }

  async purgeQueue(name: string): Promise<number> {
    this.assertOpen();
    return this.engine.purgeQueue(name);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const unsubscribe of this.subscriptions) unsubscribe();
    await Promise.all([...this.queues].map((queue) => queue.close()));
  }

  private assertOpen(): void {
    if (this.closed) throw new ConnectionClosedError('memory connection is closed');
  }
}

/**
 * The in-process transport: `memory://` or `memory://<name>`. Connections to the same name in
 * one process share queues. Implements every capability; the conformance suite's reference.
 */
export class MemoryTransport implements Transport {
  readonly name = 'memory';
  readonly schemes = ['memory'] as const;
  readonly capabilities = MEMORY_CAPABILITIES;

  async connect(options: ConnectOptions = {}): Promise<Connection> {
    const engine = memoryEngine(engineName(options.url));
    return new MemoryConnection(this, engine, createCodec({ maxPayloadBytes: options.maxPayloadBytes }));
  }
}

/** Create the `memory://` transport. */
export function createMemoryTransport(): MemoryTransport {
  return new MemoryTransport();
}
