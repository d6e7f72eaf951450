export { acknowledgementCases } from './cases/acknowledgement.js';
export { boundedQueueCases } from './cases/bounded.js';
export { broadcastCases } from './cases/broadcast.js';
export { deadLetterCases } from './cases/dead-letter.js';
export { delayCases } from './cases/delays.js';
export { durationCases } from './cases/durations.js';
export { faultCases } from './cases/faults.js';
export { getCases } from './cases/get.js';
export { inspectionCases } from './cases/inspection.js';
export { orderingCases } from './cases/ordering.js';
export { payloadCases } from './cases/payloads.js';
export { persistenceCases } from './cases/persistence.js';
export { queueCases } from './cases/queues.js';
export { redeliveryCases } from './cases/redelivery.js';
export { throughputCases } from './cases/throughput.js';
export type {
  BaseConformanceOptions,
  ConformanceOptions,
  ConformanceTiming,
  FaultInjection,
  RawPut,
} from './context.js';
export { CaseContext, sleep, within } from './context.js';
export { type FaultProxy, proxiedConnections, startFaultProxy } from './fault-proxy.js';
export { LONG_DELAY_MS } from './long-delay.js';
export { conformanceGroups, runConformanceSuite } from './suite.js';
