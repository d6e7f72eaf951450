import { createRequire } from 'node:module';
import { afterAll, describe, expect, it } from 'vitest';
import { Master } from '../src/index.js';
import { sleep, taskHarness } from './task-harness.js';

// Its own file: the OpenTelemetry API must not have been loaded in this process before the first test (nothing here
// imports it statically).
const { backend, startWorker } = taskHarness('tracing-lazy');
const require = createRequire(import.meta.url);
const apiPath = require.resolve('@opentelemetry/api');
const apiLoaded = () => apiPath in require.cache;
const OTEL_GLOBAL = Symbol.for('opentelemetry.js.api.1');

afterAll(async () => {
  if (apiLoaded()) (await import('@opentelemetry/api')).trace.disable();
});

describe('tracing when nothing registered with OpenTelemetry at start', () => {
  it('a master and a worker neither load the API on their way to their first task nor trace it', async () => {
    expect((globalThis as Record<symbol, unknown>)[OTEL_GLOBAL]).toBeUndefined();
    const { connect } = await backend();
    await startWorker(await connect(), { queue: 'lazy' });
    const master = await Master.start({ connection: await connect(), queue: 'lazy' });
    expect((await master.submit(6)).value).toBe(36);
    expect(apiLoaded()).toBe(false);
  });

  it('a tracer provider registered after they started traces the tasks from the next ones on', async () => {
    const { connect } = await backend();
    await startWorker(await connect(), { queue: 'late' });
    const master = await Master.start({ connection: await connect(), queue: 'late' });
    expect((await master.submit(2)).value).toBe(4);

    const { SpanKind, trace } = await import('@opentelemetry/api');
    const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = await import(
      '@opentelemetry/sdk-trace-base'
    );
    const exporter = new InMemorySpanExporter();
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    );
    // Both sides notice on their next batch or task and load the API meanwhile: within a few tasks, one task's
    // submit span has its run as a child.
    const tracedEnd = () => {
      const spans = exporter.getFinishedSpans();
      return spans.some(
        (submit) =>
          submit.kind === SpanKind.PRODUCER &&
          spans.some(
            (run) =>
              run.kind === SpanKind.CONSUMER && run.parentSpanContext?.spanId === submit.spanContext().spanId,
          ),
      );
    };
    for (let i = 0; i < 50 && !tracedEnd(); i++) {
      expect((await master.submit(i)).value).toBe(i * i);
      await sleep(10);
    }
    expect(tracedEnd()).toBe(true);
  });
});
