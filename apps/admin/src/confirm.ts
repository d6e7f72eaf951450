import { createInterface } from 'node:readline/promises';
import { ConfigError } from '@taskwire/core';

/**
 * Ask before a change that cannot be undone. `--yes` skips the question; without it the question needs a
 * terminal: a script (stdin not a TTY) is refused rather than answered for.
 */
export async function confirm(question: string, yes: boolean | undefined): Promise<boolean> {
  if (yes) return true;
  if (!process.stdin.isTTY) {
    throw new ConfigError(`${question.replace(/\?$/, '')}: refused without --yes (stdin is not a terminal)`);
  }
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await prompt.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    prompt.close();
  }
}
