// The CI cut of `pnpm chaos`: the fastest scenarios on every transport with the real CLIs, 2,000
// tasks each. Every broker is a private one the run starts itself (never the shared ones).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runChaos } from '../dist/chaos.js';
import { resultTable } from '../dist/report.js';
import type { TransportName } from '../src/backends.js';

const out = mkdtempSync(join(tmpdir(), 'taskwire-chaos-ci-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

const MATRIX: [TransportName, string[]][] = [
  ['tcp', ['kill', 'poison', 'fuzz']],
  ['redis', ['kill', 'cut']],
  ['rabbitmq', ['kill']],
  ['sqlite', ['kill']],
];

describe('pnpm chaos, reduced matrix', () => {
  it('loses and duplicates nothing in any cell, and writes the table and the charts', async () => {
    const results = await runChaos({
      transports: MATRIX.map(([transport]) => transport),
      scenarios: [],
      scenariosOf: Object.fromEntries(MATRIX),
      tasks: 2000,
      workers: 3,
      out,
      fuzzFrames: 20_000,
      taskMs: 1,
      stallMs: 3000,
      cutMs: 1500,
      brokerDownMs: 1500,
      concurrency: 16,
      prefetch: 64,
      command: 'chaos.test.ts',
    });
    console.log(resultTable(results));
    expect(results.map((cell) => `${cell.scenario}/${cell.transport}`).sort()).toEqual(
      MATRIX.flatMap(([transport, scenarios]) =>
        scenarios.map((scenario) => `${scenario}/${transport}`),
      ).sort(),
    );
    for (const cell of results) {
      const where = `${cell.scenario} on ${cell.transport}: ${cell.notes.join('; ')}`;
      expect(cell.notApplicable, where).toBeUndefined();
      expect({ where, submitted: cell.submitted, lost: cell.lost, duplicated: cell.duplicated }).toEqual({
        where,
        submitted: 2000,
        lost: 0,
        duplicated: 0,
      });
      expect({ where, otherFailed: cell.otherFailed, poison: cell.poisonFailed }).toEqual({
        where,
        otherFailed: 0,
        poison: cell.poisonTotal,
      });
      expect(cell.passed, where).toBe(true);
      const svg = readFileSync(join(out, cell.chart!), 'utf8');
      expect(svg).toMatch(/^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
      expect(svg).toContain('<polyline');
    }
    const poison = results.find((cell) => cell.scenario === 'poison')!;
    expect(poison.poisonTotal).toBeGreaterThan(0);
    const fuzz = results.find((cell) => cell.scenario === 'fuzz')!;
    expect(fuzz.notes.join(' ')).toMatch(/hostile frames .* manager still answers a handshake/);
    expect(fuzz.master).toBe('exit 0');
    // Faults were really injected: every kill cell shows its windows in the chart.
    for (const cell of results.filter((result) => result.scenario === 'kill')) {
      expect(cell.workerDeaths, `${cell.transport}`).toBeGreaterThanOrEqual(1);
    }
    // One summary: the table of every cell, with links to the charts.
    const summary = readFileSync(join(out, 'summary.md'), 'utf8');
    expect(summary).toContain('| scenario | transport | submitted | results | lost | duplicated |');
    expect(summary).toContain('](kill-sqlite.svg)');
    expect(existsSync(join(out, 'logs', 'kill-sqlite.log'))).toBe(true);
  }, 600_000);
});
