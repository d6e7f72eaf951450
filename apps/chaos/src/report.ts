import type { CellResult } from './run-cell.js';
import type { Scenario } from './scenarios.js';

function seconds(ms: number | undefined): string {
  if (ms === undefined) return '—';
  if (!Number.isFinite(ms)) return 'never';
  return `${(ms / 1000).toFixed(2)} s`;
}

/** A table cell's text: `|` would split the row. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

/** The table: scenario × transport, one row per cell. */
export function resultTable(results: readonly CellResult[]): string {
  const header =
    '| scenario | transport | submitted | results | lost | duplicated | poison failed | other failed | recovery | elapsed | worker deaths | master | verdict | notes |';
  const rule = `|${' --- |'.repeat(14)}`;
  const rows = results.map((result) => {
    if (result.notApplicable) {
      return `| ${result.scenario} | ${result.transport} | — | — | — | — | — | — | — | — | — | — | n/a | ${cell(result.notApplicable)} |`;
    }
    const poison = result.poisonTotal > 0 ? `${result.poisonFailed}/${result.poisonTotal}` : '—';
    return `| ${[
      result.scenario,
      result.transport,
      result.submitted,
      result.results,
      result.lost,
      result.duplicated,
      poison,
      result.otherFailed,
      seconds(result.recoveryMs),
      seconds(result.elapsedMs),
      result.workerDeaths,
      result.master,
      result.passed ? 'pass' : '**FAIL**',
      cell(result.notes.join('; ')),
    ].join(' | ')} |`;
  });
  return [header, rule, ...rows].join('\n');
}

/** `summary.md`: how the run was made, the table, what the columns mean, the charts. */
export function summaryMarkdown(
  results: readonly CellResult[],
  scenarios: readonly Scenario[],
  command: string,
  settings: { tasks: number; workers: number; taskMs: number; concurrency: number; prefetch: number },
): string {
  const charts = results
    .filter((result) => result.chart)
    .map(
      (result) =>
        `### ${result.scenario} on ${result.transport}\n\n![${result.scenario} on ${result.transport}](${result.chart})`,
    );
  return [
    '# pnpm chaos',
    '',
    `\`${command}\`: ${settings.tasks} tasks per cell, ${settings.workers} workers (\`taskwire-worker --concurrency ${settings.concurrency} --prefetch ${settings.prefetch}\`, ${settings.taskMs} ms of work per task), ${new Date().toISOString()}.`,
    '',
    resultTable(results),
    '',
    '## Scenarios',
    '',
    ...scenarios.map((scenario) => `- **${scenario.name}**: ${scenario.summary}`),
    '',
    '## Columns',
    '',
    "- **results**: lines in the master's `--output` (a duplicate counts twice); **lost**: task ids with no line;",
    '  **duplicated**: task ids with more than one line.',
    '- **poison failed**: poison tasks that ended as failures (all must); **other failed**: failures of tasks that',
    '  were not poison (must be 0).',
    "- **recovery**: the worst, over the cell's faults, of the time from the end of a fault (link up, broker",
    '  started, worker continued or replaced) to the first 250 ms bucket back at half the pre-fault rate; "never":',
    '  results stopped while tasks were missing.',
    '- **verdict**: pass when nothing is lost or duplicated, every poison task failed and nothing else did.',
    '- Logs of the master and workers of each cell: `logs/<scenario>-<transport>.log`.',
    '',
    '## Throughput (results/s per 250 ms, faults shaded)',
    '',
    ...charts.flatMap((chart) => [chart, '']),
  ].join('\n');
}
