export type { ConformanceOptions, ConformanceTiming } from './context.js';
export { CaseContext, sleep, within } from './context.js';
export { runConformanceSuite } from './suite.js';
