import { type LogFlags, type LogFormat, type LogLevel, logSettingsFrom } from './log-options.js';

/** Fields logged with a message (JSON format only; the text format shows the message alone). */
export type LogFields = Record<string, unknown>;

/** What the CLIs log through: one method per level, a message and, for the JSON format, fields. */
export interface Logger {
  readonly format: LogFormat;
  readonly level: LogLevel;
  /** True when a message at `level` is written (to skip building costly fields). */
  isLevelEnabled(level: LogLevel): boolean;
  trace(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** The message the process exits with (`exitWithError`). */
  fatal(message: string, fields?: LogFields): void;
}

const RANK: Record<LogLevel, number> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
  silent: Number.POSITIVE_INFINITY,
};

type Write = (level: LogLevel, message: string, fields: LogFields | undefined) => void;

function loggerOf(format: LogFormat, level: LogLevel, write: Write): Logger {
  const at = (messageLevel: LogLevel) => (message: string, fields?: LogFields) => {
    if (RANK[messageLevel] >= RANK[level]) write(messageLevel, message, fields);
  };
  return {
    format,
    level,
    isLevelEnabled: (messageLevel) => RANK[messageLevel] >= RANK[level],
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    fatal: at('fatal'),
  };
}

/**
 * The human format, as the CLIs have always printed: `<program>: <message>` on stderr, and
 * `<program>: error: <message>` for the fatal message the process exits with.
 */
export function textLogger(program: string, level: LogLevel = 'info'): Logger {
  return loggerOf('text', level, (messageLevel, message) => {
    console.error(messageLevel === 'fatal' ? `${program}: error: ${message}` : `${program}: ${message}`);
  });
}

/**
 * One JSON object per line on stderr, written by pino (loaded only here: the text format costs no start-up time):
 * `level` (its name), `time` (ISO 8601), `pid`, `hostname`, `name` (the program), `msg` and the fields. Written
 * synchronously, so the line a process exits with is never lost.
 */
export async function jsonLogger(program: string, level: LogLevel = 'info'): Promise<Logger> {
  const { pino } = await import('pino');
  const log = pino(
    {
      name: program,
      level,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ dest: 2, sync: true }),
  );
  return loggerOf('json', level, (messageLevel, message, fields) => {
    if (messageLevel !== 'silent') log[messageLevel](fields ?? {}, message);
  });
}

let current: Logger | undefined;

/** The logger {@link createLogger} made, or the text format at `info` before it ran. */
export function currentLogger(program: string): Logger {
  return current ?? textLogger(program);
}

/**
 * The logger of a CLI, from its `--log-format` and `--log-level` (see `logSettingsFrom`): call it first thing in
 * the command's action. It becomes the logger `exitWithError` reports through. In the JSON format Node's own
 * warnings go through it too (at `warn`), so stderr stays one JSON object per line.
 */
export async function createLogger(program: string, flags: LogFlags): Promise<Logger> {
  const settings = await logSettingsFrom(flags);
  const logger =
    settings.format === 'json'
      ? await jsonLogger(program, settings.level)
      : textLogger(program, settings.level);
  if (settings.format === 'json') {
    // Node prints warnings through its own 'warning' listener: replace it.
    process.removeAllListeners('warning');
    process.on('warning', (warning) =>
      logger.warn(warning.message, { warning: warning.name, code: (warning as { code?: string }).code }),
    );
  }
  current = logger;
  return logger;
}
