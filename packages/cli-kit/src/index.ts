export { exitOnConnectionFailure, exitWithError, redactSecrets } from './exit.js';
export { BUILTIN_HANDLERS, loadHandler } from './handlers.js';
// Also the subpath `@taskwire/cli-kit/handoff`, which loads nothing but Node built-ins.
export { HANDOFF_ENV, type Handoff, receiveHandoff, sendHandoff } from './handoff.js';
export {
  addIsolationOptions,
  type IsolationFlags,
  type IsolationMode,
  isolationArgs,
  loadRunnableHandler,
  type RunnableHandler,
} from './isolation.js';
export {
  addLogOptions,
  CLI_CONFIG_KEYS,
  LOG_LEVELS,
  type LogFlags,
  type LogFormat,
  type LogLevel,
  type LogSettings,
  logArgs,
  logSettingsFrom,
} from './log-options.js';
// pino is loaded by createLogger only for the JSON format.
export { createLogger, currentLogger, type LogFields, type Logger, textLogger } from './logger.js';
export { addCommonOptions, addMetricsOptions, type CommonFlags, type MetricsFlags } from './options.js';
export { createProgram, integer, type ProgramInfo, runProgram, seconds } from './program.js';
export { readAuthkey, settingsFrom, tlsClientOptions } from './settings.js';
// startThreadPool is not re-exported: loading piscina would cost every CLI start-up ~30 ms.
export type { ThreadPoolHandler, ThreadPoolOptions } from './thread-pool.js';
export { connect, type ImportModule, loadTransport } from './transport.js';
