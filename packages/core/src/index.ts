export * from './codec.js';
export * from './errors.js';
export {
  checkPriority,
  EngineConsumer,
  type EngineItem,
  EngineQueue,
  type EngineQueueOptions,
  EngineSession,
  MemoryEngine,
  type Taken,
} from './memory/engine.js';
export {
  createMemoryTransport,
  DEFAULT_PREFETCH,
  EngineDelivery,
  MEMORY_CAPABILITIES,
  MemoryTransport,
  memoryEngine,
  runHandler,
} from './memory/transport.js';
export * from './registry.js';
export type * from './types.js';
