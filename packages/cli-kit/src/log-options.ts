import { ConfigError, readConfigFile } from '@taskwire/core';
import type { Command } from 'commander';

/** How log lines look: `text` (the human lines, the default) or `json` (one pino JSON object per line). */
export type LogFormat = 'text' | 'json';

/** pino's levels, lowest first, and `silent`. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The logging flags (and `--config`, where the file settings come from). */
export interface LogFlags {
  logFormat?: string;
  logLevel?: string;
  config?: string;
}

/** Resolved logging settings. */
export interface LogSettings {
  format: LogFormat;
  level: LogLevel;
}

/** The config file keys of the CLIs' own settings: `settingsFrom` lets them through core's check. */
export const CLI_CONFIG_KEYS: readonly string[] = ['logFormat', 'logLevel'];

const FORMATS: readonly string[] = ['text', 'json'];

/** Add `--log-format` and `--log-level` to a commander program. */
export function addLogOptions(program: Command): Command {
  return program
    .option('--log-format <format>', 'text (default) or json: one JSON object per line on stderr')
    .option('--log-level <level>', `least severe level logged: ${LOG_LEVELS.join(', ')} (default: info)`);
}

function checked<T extends string>(value: string, allowed: readonly string[], what: string): T {
  if (!allowed.includes(value)) {
    throw new ConfigError(`${what} must be one of ${allowed.join(', ')}, not "${value}"`);
  }
  return value as T;
}

/**
 * The log settings: flag > environment (`TASKWIRE_LOG_FORMAT`, `TASKWIRE_LOG_LEVEL`) > config file (`logFormat`,
 * `logLevel` in `--config` or `./taskwire.config.json`) > `text` and `info`. A bad value is a `ConfigError`.
 */
export async function logSettingsFrom(
  flags: LogFlags,
  env: NodeJS.ProcessEnv = process.env,
): Promise<LogSettings> {
  const given = (flag: string | undefined, variable: string) => flag || env[variable] || undefined;
  let format = given(flags.logFormat, 'TASKWIRE_LOG_FORMAT');
  let level = given(flags.logLevel, 'TASKWIRE_LOG_LEVEL');
  if (format === undefined || level === undefined) {
    const file = await readConfigFile({ configFile: flags.config, extraKeys: CLI_CONFIG_KEYS });
    format ??= file.logFormat;
    level ??= file.logLevel;
  }
  return {
    format: checked<LogFormat>(format ?? 'text', FORMATS, 'the log format'),
    level: checked<LogLevel>(level ?? 'info', LOG_LEVELS, 'the log level'),
  };
}

/** The same settings as `taskwire-worker` arguments (for the workers a master starts). */
export function logArgs(settings: LogSettings): string[] {
  return ['--log-format', settings.format, '--log-level', settings.level];
}
