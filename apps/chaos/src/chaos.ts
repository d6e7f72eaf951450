import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Backend, startBackend, type TransportName } from './backends.js';
import { summaryMarkdown } from './report.js';
import { type CellResult, type RunSettings, runCell } from './run-cell.js';
import { SCENARIOS } from './scenarios.js';

/** What `pnpm chaos` runs. */
export interface ChaosOptions extends RunSettings {
  transports: TransportName[];
  scenarios: string[];
  /** Scenarios per transport, overriding `scenarios` for the transports it names (the CI cut). */
  scenariosOf?: Partial<Record<TransportName, string[]>>;
  /** The command line, for the summary. */
  command: string;
  /** Called after each cell (the CLI prints progress). */
  onCell?: (result: CellResult) => void;
}

/**
 * Run every scenario on every transport (transport by transport, one private broker each), write
 * `summary.md` and one chart per cell into `options.out`, and return the cells in table order.
 */
export async function runChaos(options: ChaosOptions): Promise<CellResult[]> {
  mkdirSync(join(options.out, 'logs'), { recursive: true });
  const wanted = (transport: TransportName) => options.scenariosOf?.[transport] ?? options.scenarios;
  const scenarios = SCENARIOS.filter((scenario) =>
    options.transports.some((transport) => wanted(transport).includes(scenario.name)),
  );
  const results: CellResult[] = [];
  for (const transport of options.transports) {
    let backend: Backend;
    try {
      backend = await startBackend(transport);
    } catch (error) {
      throw new Error(`cannot start the ${transport} backend: ${(error as Error).message}`);
    }
    try {
      for (const scenario of scenarios.filter((scenario) => wanted(transport).includes(scenario.name))) {
        const result = await runCell(scenario, backend, options);
        results.push(result);
        options.onCell?.(result);
      }
    } finally {
      await backend.close();
    }
  }
  // Table order: scenario by scenario, transports side by side.
  results.sort(
    (a, b) =>
      scenarios.findIndex((s) => s.name === a.scenario) - scenarios.findIndex((s) => s.name === b.scenario) ||
      options.transports.indexOf(a.transport as TransportName) -
        options.transports.indexOf(b.transport as TransportName),
  );
  writeFileSync(
    join(options.out, 'summary.md'),
    summaryMarkdown(results, scenarios, options.command, options),
  );
  writeFileSync(join(options.out, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  return results;
}
