/**
 * `@taskwire/core/engine`: the in-process queue engine behind `memory://`, for a transport that hosts it (the TCP
 * manager serves it over sockets). Not needed to write a transport for another backend (see
 * `@taskwire/core/transport`) nor to use one.
 *
 * @packageDocumentation
 */
export { MemoryEngine } from '../memory/engine.js';
export type { EngineItem, EnginePutOptions, TaggedItem } from '../memory/engine-item.js';
export { EngineQueue } from '../memory/engine-queue.js';
export { EngineConsumer, EngineSession } from '../memory/engine-session.js';
export { loadPayload, type StoredPayload, storePayload } from '../memory/payload.js';
export { memoryEngine } from '../memory/transport.js';
