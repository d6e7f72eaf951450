/**
 * `@taskwire/metrics`: Prometheus metrics for taskwire, with prom-client (loaded only once a registry shows them).
 *
 * @packageDocumentation
 */

export { createQueueMetrics, type QueueMetrics, type QueueMetricsOptions } from './queue-metrics.js';
export { type ServedMetrics, type ServeMetricsOptions, serveMetrics } from './serve.js';
export { type MetricsServer, type MetricsServerOptions, startMetricsServer } from './server.js';
export { createTaskMetrics, type Detach, DURATION_BUCKETS, TaskMetrics } from './task-metrics.js';
