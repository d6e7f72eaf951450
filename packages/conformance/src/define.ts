import type { Capabilities, Connection, ConnectOptions } from '@taskwire/core';
import { describe, it } from 'vitest';
import { type BaseConformanceOptions, CaseContext, runPrefix, type Timing } from './context.js';

const DEFAULT_TIMING: Timing = { toleranceMs: 300, visibilityTimeoutMs: 600, delayMs: 400 };

/** Registers one case: its own queue names, its connections closed and its queues cleaned up after. */
export type DefineCase = (
  title: string,
  body: (ctx: CaseContext) => Promise<void>,
  timeoutMs?: number,
) => void;

/** What a group's body receives. */
export interface GroupTools {
  test: DefineCase;
  caps: Capabilities;
  timing: Timing;
}

/**
 * Register a group of cases in a `describe(title)` block. Every call takes a prefix of its own, so
 * groups can run alone or together in any order. `connect` replaces the options' connect for the
 * cases of this group (the fault cases' connections).
 */
export function defineGroup(
  options: BaseConformanceOptions,
  title: string,
  body: (tools: GroupTools) => void,
  connect?: (options?: ConnectOptions) => Promise<Connection>,
): void {
  const timing: Timing = { ...DEFAULT_TIMING, ...options.timing };
  const prefix = runPrefix();
  let caseNumber = 0;
  const test: DefineCase = (caseTitle, caseBody, timeoutMs = 30_000) =>
    it(
      caseTitle,
      async () => {
        const ctx = new CaseContext(options, `${prefix}.${++caseNumber}`, connect);
        try {
          await caseBody(ctx);
        } finally {
          await ctx.dispose();
        }
      },
      timeoutMs,
    );
  describe(title, () => body({ test, caps: options.capabilities, timing }));
}
