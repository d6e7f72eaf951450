import type { DeliveryHandler } from '@taskwire/core';
import { runHandler } from '@taskwire/core/transport';
import { asArray, asBytes, asString, asUint, errorFromWire, Op, Push } from './protocol.js';
import type { ClientConsumer, HandleState } from './queue-context.js';

/** A broadcast subscription: its channel (to subscribe again after a reconnect) and its decoding handler. */
interface ClientSubscription {
  readonly channel: string;
  readonly handler: (bytes: Uint8Array) => void;
}

/**
 * What the server pushes to a client connection, and who receives it: the consumers and subscriptions registered
 * on the connection. They outlive a socket: after a reconnect, {@link restoreRequests} starts them again.
 */
export class PushReceiver {
  private nextConsumerId = 0;
  private nextSubscriptionId = 0;
  private readonly consumers = new Map<number, ClientConsumer>();
  private readonly subscriptions = new Map<number, ClientSubscription>();

  /** @param handBack Gives back, never started, a delivery pushed to a consumer already cancelled. */
  constructor(private readonly handBack: (queue: HandleState, tag: number, epoch: number) => void) {}

  /** Register a consumer id before its CONSUME request goes out. */
  addConsumer(queue: HandleState, handler: DeliveryHandler<any>, prefetch: number): ClientConsumer {
    const consumer: ClientConsumer = { id: ++this.nextConsumerId, queue, handler, prefetch, active: true };
    this.consumers.set(consumer.id, consumer);
    return consumer;
  }

  removeConsumer(consumer: ClientConsumer): void {
    consumer.active = false;
    this.consumers.delete(consumer.id);
  }

  /** A new subscription id. */
  subscriptionId(): number {
    return ++this.nextSubscriptionId;
  }

  addSubscription(id: number, channel: string, handler: (bytes: Uint8Array) => void): void {
    this.subscriptions.set(id, { channel, handler });
  }

  /** False when it was already removed. */
  removeSubscription(id: number): boolean {
    return this.subscriptions.delete(id);
  }

  /** Handle one push; returns the server's reason when it is about to close the connection (FATAL). */
  receive(message: unknown[], epoch: number): Error | undefined {
    switch (message[1]) {
      case Push.DELIVER:
        this.deliver(message, epoch);
        return undefined;
      case Push.MESSAGE: {
        const subscription = this.subscriptions.get(asUint(message[2], 'subscription id'));
        const payload = asBytes(message[3], 'message');
        try {
          subscription?.handler(payload);
        } catch {
          // a throwing broadcast handler must not break the connection
        }
        return undefined;
      }
      case Push.FATAL:
        return errorFromWire(message[2], message[3]);
      default:
        return undefined;
    }
  }

  /** The CONSUME and SUBSCRIBE requests that start every active consumer and subscription on a new socket. */
  restoreRequests(): unknown[][] {
    const requests: unknown[][] = [];
    for (const consumer of this.consumers.values()) {
      if (consumer.active)
        requests.push([0, Op.CONSUME, consumer.queue.handle, consumer.id, consumer.prefetch]);
    }
    for (const [id, { channel }] of this.subscriptions) requests.push([0, Op.SUBSCRIBE, id, channel]);
    return requests;
  }

  private deliver(message: unknown[], epoch: number): void {
    const consumer = this.consumers.get(asUint(message[2], 'consumer id'));
    const tags = asArray(message[3], 'tags');
    const ids = asArray(message[4], 'ids');
    const attempts = asArray(message[5], 'attempts');
    const payloads = asArray(message[6], 'payloads');
    for (let i = 0; i < tags.length; i++) {
      const tag = asUint(tags[i], 'tag');
      if (!consumer?.active) {
        // Pushed before our cancel reached the server: hand it straight back, never started.
        if (consumer) this.handBack(consumer.queue, tag, epoch);
        continue;
      }
      const delivery = consumer.queue.toDelivery(
        epoch,
        tag,
        asString(ids[i], 'id'),
        asUint(attempts[i], 'attempt'),
        asBytes(payloads[i], 'payload'),
      );
      if (delivery) void runHandler(consumer.handler, delivery);
    }
  }
}
