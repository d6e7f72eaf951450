import { describe } from 'vitest';
import { acknowledgementCases } from './cases/acknowledgement.js';
import { boundedQueueCases } from './cases/bounded.js';
import { broadcastCases } from './cases/broadcast.js';
import { deadLetterCases } from './cases/dead-letter.js';
import { delayCases } from './cases/delays.js';
import { durationCases } from './cases/durations.js';
import { faultCases } from './cases/faults.js';
import { getCases } from './cases/get.js';
import { inspectionCases } from './cases/inspection.js';
import { orderingCases } from './cases/ordering.js';
import { payloadCases } from './cases/payloads.js';
import { persistenceCases } from './cases/persistence.js';
import { queueCases } from './cases/queues.js';
import { redeliveryCases } from './cases/redelivery.js';
import { throughputCases } from './cases/throughput.js';
import type { ConformanceOptions } from './context.js';

/**
 * Every group of the suite, in the order the whole suite runs them. Each can also run alone (inside
 * a `describe` of the caller's, or at the top level of a test file).
 */
export const conformanceGroups = {
  ordering: orderingCases,
  boundedQueues: boundedQueueCases,
  get: getCases,
  acknowledgement: acknowledgementCases,
  deadLetter: deadLetterCases,
  redelivery: redeliveryCases,
  delays: delayCases,
  durations: durationCases,
  throughput: throughputCases,
  payloads: payloadCases,
  queues: queueCases,
  broadcast: broadcastCases,
  inspection: inspectionCases,
  persistence: persistenceCases,
  faults: faultCases,
} as const;

/**
 * Register the conformance cases for one transport with vitest. Call it at the top level of a
 * test file:
 *
 * ```ts
 * runConformanceSuite({ name: 'redis', connect, capabilities: transport.capabilities, rawPut, faults });
 * ```
 *
 * Every capability gates its own cases: a declared capability runs its behaviour cases, an
 * undeclared one runs a case proving the option is refused with `UnsupportedError`. Nothing is
 * ever skipped.
 */
export function runConformanceSuite(options: ConformanceOptions): void {
  describe(`${options.name} conformance`, () => {
    for (const group of Object.values(conformanceGroups)) group(options);
  });
}
