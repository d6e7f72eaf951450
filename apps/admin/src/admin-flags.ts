import type { CommonFlags } from '@taskwire/cli-kit';

/** Flags every `taskwire` command has: the shared connection flags and `--json`. */
export interface AdminFlags extends CommonFlags {
  /** Machine-readable output: one JSON document (or one per line with `--watch`). */
  json?: boolean;
}
