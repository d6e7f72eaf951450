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
export { startThreadPool, type ThreadPoolHandler, type ThreadPoolOptions } from './thread-pool.js';
