export type { QueueSample, Snapshot } from './dashboard/sampler.js';
export { type Dashboard, type DashboardOptions, startDashboard } from './dashboard/server.js';
export { type ItemView, viewItem } from './items.js';
