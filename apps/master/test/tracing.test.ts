import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { Master, type TaskResult } from '@taskwire/core';
import { createTcpTransport } from '@taskwire/transport-tcp';
import { afterAll, describe, expect, it } from 'vitest';
import { exitWithin, killAfterEach, start, uniqueName, WORKER_CLI, waitFor } from './helpers.js';

const REGISTER_SPANS = pathToFileURL(
  fileURLToPath(new URL('./fixtures/otel-file-spans.mjs', import.meta.url)),
);
const HANDLER = fileURLToPath(new URL('./fixtures/negative-fails.mjs', import.meta.url));
const track = killAfterEach();

afterAll(() => trace.disable());

interface WorkerSpan {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  status: { code: number; message?: string };
  events: { name: string; attributes?: Record<string, unknown> }[];
  attributes: Record<string, unknown>;
}

describe('tracing across processes', () => {
  it('one trace from submit (this process) to run (a taskwire-worker process) to result', async () => {
    const exporter = new InMemorySpanExporter();
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    );
    const authkey = randomBytes(12).toString('hex');
    const server = await createTcpTransport().serve({ host: '127.0.0.1', port: 0, authkey });
    const connection = await server.connect();
    const queue = uniqueName('trace');
    const spansFile = join(mkdtempSync(join(tmpdir(), 'taskwire-trace-')), 'worker-spans.jsonl');
    const worker = track(
      start(WORKER_CLI, ['--url', server.url, '--queue', queue, '--handler', HANDLER], {
        TASKWIRE_AUTHKEY: authkey,
        NODE_OPTIONS: `--import=${REGISTER_SPANS.href}`,
        SPANS_FILE: spansFile,
      }),
    );
    let ok: TaskResult;
    let failed: TaskResult;
    try {
      const master = await Master.start({ connection, queue, maxAttempts: 1 });
      [ok, failed] = await Promise.all([master.submit(12), master.submit(-5)]);
      expect(ok).toMatchObject({ ok: true, value: 144 });
      expect(failed).toMatchObject({ ok: false, error: { name: 'RangeError', message: 'negative -5' } });
      await master.close();
      worker.child.kill('SIGTERM');
      expect(await exitWithin(worker, 10_000, 'the worker'), worker.stderr()).toEqual({
        code: 0,
        signal: null,
      });
    } finally {
      await connection.close();
      await server.close();
    }

    const submits = exporter.getFinishedSpans().filter((span) => span.kind === SpanKind.PRODUCER);
    expect(submits).toHaveLength(2);
    await waitFor(() => existsSync(spansFile), 1000, 'the worker spans file');
    const runs = readFileSync(spansFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as WorkerSpan);
    expect(runs, worker.stderr()).toHaveLength(2);
    for (const [result, code] of [
      [ok, SpanStatusCode.UNSET],
      [failed, SpanStatusCode.ERROR],
    ] as const) {
      const submit = submits.find((span) => span.attributes['messaging.message.id'] === result.taskId)!;
      const run = runs.find((span) => span.attributes['messaging.message.id'] === result.taskId)!;
      // One trace: the worker's span is the child of the master's, across the TCP transport.
      expect(run.traceId).toBe(submit.spanContext().traceId);
      expect(run.parentSpanId).toBe(submit.spanContext().spanId);
      expect(run.kind).toBe(SpanKind.CONSUMER);
      expect(run.name).toBe(`run ${queue}`);
      expect(submit.name).toBe(`submit ${queue}`);
      expect(run.status.code).toBe(code);
      expect(submit.status.code).toBe(code);
    }
    const failedRun = runs.find((span) => span.attributes['messaging.message.id'] === failed.taskId)!;
    expect(failedRun.events[0]).toMatchObject({
      name: 'exception',
      attributes: { 'exception.type': 'RangeError', 'exception.message': 'negative -5' },
    });
  });
});
