import { startPrivateBroker, startPrivateRedis } from '@taskwire/test-brokers';

// Backends of a test's own on free loopback ports, which the broker-restart scenarios stop and start (the shared
// brokers are never stopped).

/** A private backend the test can stop and start. */
export interface PrivateBackend {
  readonly url: string;
  /** Stop gracefully: RabbitMQ `stop_app`, Redis `SHUTDOWN` (persistence written first). */
  stopGracefully(): Promise<void>;
  /** Start again after {@link stopGracefully}, on the same port and data. */
  startAgain(): Promise<void>;
  /** Stop for good and remove its files. */
  remove(): Promise<void>;
}

/** A RabbitMQ node with its own name, ports, directory and cookie, no plugins. */
export async function privateRabbitMQ(): Promise<PrivateBackend> {
  const node = await startPrivateBroker();
  return {
    url: node.url,
    stopGracefully: () => node.stopApp(),
    startAgain: () => node.startApp(),
    remove: () => node.stop(),
  };
}

/** A redis-server with an append-only file (fsync per write). */
export async function privateRedis(): Promise<PrivateBackend> {
  const server = await startPrivateRedis({ persistent: true });
  return {
    url: server.url,
    stopGracefully: () => server.shutdown(),
    startAgain: () => server.start(),
    remove: () => server.stop(),
  };
}
