export {
  addCommonOptions,
  type CommonFlags,
  connect,
  exitWithError,
  loadTransport,
  readAuthkey,
  redactSecrets,
  settingsFrom,
  tlsClientOptions,
} from './common.js';
export { BUILTIN_HANDLERS, loadHandler } from './handlers.js';
export {
  addIsolationOptions,
  type IsolationFlags,
  type IsolationMode,
  isolationArgs,
  loadRunnableHandler,
  type RunnableHandler,
} from './isolation.js';
export { type RunWorkerOptions, runWorker } from './run.js';
// startThreadPool is not re-exported: loading piscina would cost every CLI start-up ~30 ms.
export type { ThreadPoolHandler, ThreadPoolOptions } from './thread-pool.js';
