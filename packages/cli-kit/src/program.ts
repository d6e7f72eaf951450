import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { exitWithError } from './exit.js';

/** What {@link createProgram} needs to know about a CLI. */
export interface ProgramInfo {
  /** The command's name, as typed and as printed before its error messages. */
  name: string;
  description: string;
  /** The CLI package's `package.json` (`new URL('../package.json', import.meta.url)`): `--version` prints its version. */
  packageJson: URL;
}

/**
 * A commander program set up the way every taskwire CLI is: `--version`, usage hint after an
 * error, and exit code 2 for a flag commander refuses (unknown, or a bad value), like a
 * `ConfigError`.
 */
export function createProgram(info: ProgramInfo): Command {
  const { version } = JSON.parse(readFileSync(info.packageJson, 'utf8')) as { version: string };
  return new Command(info.name)
    .description(info.description)
    .version(version)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2));
}

/**
 * Parse the command line and run `main` with the flags. A number `main` resolves with is the
 * exit code; `undefined` leaves the process running (a server). Any error is reported by
 * {@link exitWithError}. `args` (the arguments alone, without `node` and the script) replace
 * `process.argv`, for a process that received its arguments another way (a worker the master
 * pre-started gets them over IPC).
 */
export async function runProgram<Flags>(
  program: Command,
  main: (flags: Flags) => Promise<number | undefined>,
  args?: readonly string[],
): Promise<void> {
  try {
    if (args) program.parse(args, { from: 'user' });
    else program.parse();
    const code = await main(program.opts<Flags & Record<string, unknown>>());
    if (code !== undefined) process.exit(code);
  } catch (error) {
    exitWithError(program.name(), error);
  }
}

/** A commander argument parser for an integer from `min` to `max`. */
export function integer(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(
        max === Number.MAX_SAFE_INTEGER
          ? `must be an integer ≥ ${min}`
          : `must be an integer from ${min} to ${max}`,
      );
    }
    return n;
  };
}

/** A commander argument parser for a number of seconds ≥ 0 (fractions allowed). */
export function seconds(value: string): number {
  const n = Number(value);
  if (!(n >= 0)) throw new InvalidArgumentError('must be a number of seconds ≥ 0');
  return n;
}
