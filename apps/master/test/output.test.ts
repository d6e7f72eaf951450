import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TaskResult } from '@taskwire/core';
import { describe, expect, it } from 'vitest';
import { ResultWriter } from '../dist/output.js';

const result = (n: number): TaskResult => ({
  taskId: `t${n}`,
  ok: true,
  value: n * n,
  worker: 'w1',
  attempt: 1,
  startedAt: 0,
  finishedAt: 0,
  payload: n,
});

describe('ResultWriter', () => {
  it('writes one JSON result per line', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'taskwire-output-')), 'results.jsonl');
    const writer = await ResultWriter.open(file);
    await writer.write(result(2));
    await writer.write(result(3));
    await writer.close();
    expect(readFileSync(file, 'utf8')).toBe(
      '{"input":2,"ok":true,"value":4,"attempt":1,"worker":"w1"}\n{"input":3,"ok":true,"value":9,"attempt":1,"worker":"w1"}\n',
    );
  });

  it('a result that arrives while the output closes (a stopped job) is dropped, not a failed run', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'taskwire-output-')), 'results.jsonl');
    const writer = await ResultWriter.open(file);
    await writer.write(result(2));
    const closing = writer.close();
    await writer.write(result(3));
    await closing;
    expect(readFileSync(file, 'utf8')).toBe('{"input":2,"ok":true,"value":4,"attempt":1,"worker":"w1"}\n');
  });
});
