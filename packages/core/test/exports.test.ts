import { describe, expect, it } from 'vitest';

// Through the package's own "exports" map, as a user or a transport author imports it (the built dist).
describe('package entry points', () => {
  it('the root export carries no engine internals', async () => {
    const root = await import('@taskwire/core');
    for (const name of [
      'EngineQueue',
      'EngineSession',
      'EngineConsumer',
      'MemoryEngine',
      'memoryEngine',
      'storePayload',
      'loadPayload',
      'EngineDelivery',
      'runHandler',
      'resolveQueueOptions',
      'checkPriority',
    ]) {
      expect(root, name).not.toHaveProperty(name);
    }
    expect(root).toHaveProperty('Master');
    expect(root).toHaveProperty('BackendError');
  });

  it('@taskwire/core/transport holds the transport-author kit', async () => {
    const kit = await import('@taskwire/core/transport');
    for (const name of [
      'resolveQueueOptions',
      'checkQueueName',
      'checkPriority',
      'resolvePrefetch',
      'BaseDelivery',
      'runHandler',
      'decodeOrDeadLetter',
      'TickBatcher',
      'backoffDelay',
      'wrapBackendError',
      'BackendError',
      'PollingQueue',
      'PollingConsumer',
      'WakeSignal',
      'sharedWakeSignal',
    ]) {
      expect(kit, name).toHaveProperty(name);
    }
  });

  it('@taskwire/core/engine holds the engine for transports that host it', async () => {
    const engine = await import('@taskwire/core/engine');
    for (const name of ['MemoryEngine', 'EngineQueue', 'EngineSession', 'memoryEngine', 'storePayload']) {
      expect(engine, name).toHaveProperty(name);
    }
  });
});
