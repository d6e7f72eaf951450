import { type Connection, redactUrl, TaskwireError } from '@taskwire/core';
import { currentLogger } from './logger.js';

/** Error codes that mean bad input rather than a failure: the CLIs exit 2 for them, 1 for the rest. */
const USAGE_CODES: readonly string[] = ['TASKWIRE_CONFIG', 'TASKWIRE_AUTH'];

/**
 * Log `error` at `fatal` as one line, `<program>: error: <message>` with passwords redacted (no stack
 * trace unless TASKWIRE_DEBUG is set; in the JSON format, its `code` and `stack` are fields), and
 * exit: 2 for configuration and authentication problems, 1 for anything else.
 */
export function exitWithError(program: string, error: unknown): never {
  const message = error instanceof Error ? error.message : String(error);
  const log = currentLogger(program);
  const code = TaskwireError.isInstance(error) ? error.code : undefined;
  const stack = process.env.TASKWIRE_DEBUG && error instanceof Error ? error.stack : undefined;
  log.fatal(
    redactSecrets(message.split('\n')[0] ?? message),
    log.format === 'json' ? { code, stack } : undefined,
  );
  if (stack && log.format === 'text' && log.isLevelEnabled('fatal')) console.error(stack);
  process.exit(code !== undefined && USAGE_CODES.includes(code) ? 2 : 1);
}

/**
 * Exit through {@link exitWithError} when `connection` fails for good (its `error` event): a worker or master
 * whose backend refused its login on reconnect, or that gave up reconnecting, must not stay up doing nothing.
 * One line names the failure; the exit code is 2 for a refused login (`AuthError`) or configuration, 1 otherwise.
 */
export function exitOnConnectionFailure(program: string, connection: Connection): void {
  connection.on('error', (error) => exitWithError(program, error));
}

/** Redact passwords of every URL inside a message. */
export function redactSecrets(message: string): string {
  return message.replace(/[a-z][a-z0-9+.-]*:\/\/[^\s"']+/gi, (url) => redactUrl(url));
}
