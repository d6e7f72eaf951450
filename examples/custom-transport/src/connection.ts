import type {
  BroadcastHandler,
  Connection,
  ConnectionErrorListener,
  ConnectionEvent,
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
} from '@taskwire/core';

/** Separator between the namespace and a queue or channel name (`tenant-a:tasks`). */
export const SEPARATOR = ':';

/** The name `name` has on the inner backend. */
export function namespacedName(namespace: string, name: string): string {
  return `${namespace}${SEPARATOR}${name}`;
}

/**
 * A queue handle that shows the caller the name they asked for while every operation goes to the
 * inner queue `<namespace>:<name>`. Deliveries are the inner ones, untouched.
 */
export class NamespacedQueue<T> implements DistributedQueue<T> {
  constructor(
    /** The name the caller declared, without the namespace. */
    readonly name: string,
    private readonly inner: DistributedQueue<T>,
  ) {}

  put(item: T, options?: PutOptions): Promise<void> {
    return this.inner.put(item, options);
  }

  putMany(items: Iterable<T>, options?: PutOptions): Promise<void> {
    return this.inner.putMany(items, options);
  }

  get(options?: GetOptions): Promise<Delivery<T>> {
    return this.inner.get(options);
  }

  consume(handler: DeliveryHandler<T>, options?: ConsumeOptions): Promise<ConsumerHandle> {
    return this.inner.consume(handler, options);
  }

  size(): Promise<number> {
    return this.inner.size();
  }

  purge(): Promise<number> {
    return this.inner.purge();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  delete(): Promise<void> {
    return this.inner.delete();
  }
}

/** A connection whose queues and broadcast channels all live under one namespace. */
export class NamespacedConnection implements Connection {
  constructor(
    readonly transport: Transport,
    private readonly inner: Connection,
    private readonly namespace: string,
  ) {}

  async queue<T = unknown>(name: string, options?: QueueOptions): Promise<DistributedQueue<T>> {
    // The dead-letter queue is a queue name too: it must stay inside the tenant's namespace.
    const deadLetter = options?.deadLetter;
    const innerOptions = isName(deadLetter)
      ? { ...options, deadLetter: namespacedName(this.namespace, deadLetter) }
      : options;
    const queue = await this.inner.queue<T>(this.prefixed(name, 'queue name'), innerOptions);
    return new NamespacedQueue(name, queue);
  }

  async publish<T = unknown>(channel: string, message: T): Promise<void> {
    return this.inner.publish(this.prefixed(channel, 'channel'), message);
  }

  async subscribe<T = unknown>(channel: string, handler: BroadcastHandler<T>): Promise<Subscription> {
    return this.inner.subscribe(this.prefixed(channel, 'channel'), handler);
  }

  /** The inner backend's queues inside this namespace, under the names the caller gave them. */
  async listQueues(): Promise<string[]> {
    const prefix = namespacedName(this.namespace, '');
    return (await this.inner.listQueues())
      .filter((name) => name.startsWith(prefix))
      .map((name) => name.slice(prefix.length));
  }

  async stats(name: string): Promise<QueueStats> {
    const stats = await this.inner.stats(this.prefixed(name, 'queue name'));
    const prefix = namespacedName(this.namespace, '');
    const deadLetter = stats.deadLetter.name.startsWith(prefix)
      ? { ...stats.deadLetter, name: stats.deadLetter.name.slice(prefix.length) }
      : stats.deadLetter;
    return { ...stats, name, deadLetter };
  }

  peek<T = unknown>(name: string, options?: PeekOptions): Promise<PeekedItem<T>[]> {
    return this.inner.peek<T>(this.prefixed(name, 'queue name'), options);
  }

  moveItems(from: string, to: string, options?: MoveOptions): Promise<number> {
    return this.inner.moveItems(this.prefixed(from, 'queue name'), this.prefixed(to, 'queue name'), options);
  }

  purgeQueue(name: string): Promise<number> {
    return this.inner.purgeQueue(this.prefixed(name, 'queue name'));
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** The inner connection's terminal failure is this one's. */
  on(event: ConnectionEvent, listener: ConnectionErrorListener): this {
    this.inner.on(event, listener);
    return this;
  }

  off(event: ConnectionEvent, listener: ConnectionErrorListener): this {
    this.inner.off(event, listener);
    return this;
  }

  private prefixed(name: string, what: string): string {
    // Checked here because `<namespace>:` would pass the inner transport's own check.
    if (!isName(name)) throw new TypeError(`${what} must be a non-empty string`);
    return namespacedName(this.namespace, name);
  }
}

function isName(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}
