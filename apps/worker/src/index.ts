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
export { type RunWorkerOptions, runWorker } from './run.js';
