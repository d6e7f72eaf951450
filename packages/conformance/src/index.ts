export type { ConformanceOptions, ConformanceTiming } from './context.js';
export { CaseContext, sleep, within } from './context.js';
export { LONG_DELAY_MS, runConformanceSuite } from './suite.js';
