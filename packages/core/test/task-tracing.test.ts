import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, describe, expect, it } from 'vitest';
import { Master, readTask, type TaskTuple } from '../src/index.js';
import { taskToWire } from '../src/task/task-wire.js';
import { taskHarness } from './task-harness.js';

const { backend, startWorker } = taskHarness('tracing');
const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

afterAll(() => trace.disable());

describe('trace context in the task envelope', () => {
  it('travels as trailing elements; a task without one keeps its old wire form; old tuples still decode', () => {
    const task = { id: 't1', kind: 'k', payload: 1, maxAttempts: 3, replyTo: 'r', createdAt: 5 };
    expect(taskToWire(task)).toEqual(['t1', 'k', 1, 3, 'r', 5]);
    const traced = taskToWire({ ...task, priority: 4, traceparent: TRACEPARENT, tracestate: 'a=1' });
    expect(traced).toEqual(['t1', 'k', 1, 3, 'r', 5, null, 4, null, TRACEPARENT, 'a=1']);
    expect(readTask(traced)).toEqual({ ...task, priority: 4, traceparent: TRACEPARENT, tracestate: 'a=1' });
    // A retry copy keeps the context and its attempts.
    expect(readTask(taskToWire({ ...task, priorAttempts: 2, traceparent: TRACEPARENT }))).toEqual({
      ...task,
      priorAttempts: 2,
      traceparent: TRACEPARENT,
    });
    // Envelopes from before the trace context: nine elements at most.
    const old: TaskTuple = ['t1', 'k', 1, 3, 'r', 5, 100, null, 1];
    expect(readTask(old)).toEqual({ ...task, timeoutMs: 100, priorAttempts: 1 });
  });

  it('without a tracer provider a task carries no trace context', async () => {
    const { connect } = await backend();
    const master = await Master.start({ connection: await connect(), queue: 'untraced' });
    void master.submit(7);
    const queue = await (await connect()).queue('untraced');
    const delivery = await queue.get({ timeoutMs: 1000 });
    expect(delivery.body).toHaveLength(6);
    await delivery.ack();
  });

  it('with a provider: a PRODUCER span per task ends with its result; each attempt is a CONSUMER child; failures are recorded', async () => {
    const exporter = new InMemorySpanExporter();
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    );
    const { connect } = await backend();
    await startWorker(await connect(), {
      queue: 'traced',
      backoff: { baseMs: 1, maxMs: 1 },
      handler: (n: number) => {
        if (n < 0) throw new RangeError(`negative ${n}`);
        return n * n;
      },
    });
    const master = await Master.start({ connection: await connect(), queue: 'traced', maxAttempts: 2 });
    const [ok, failed] = await Promise.all([master.submit(3), master.submit(-1)]);
    expect(ok.ok).toBe(true);
    expect(failed.ok).toBe(false);

    const spans = exporter.getFinishedSpans();
    const submits = spans.filter((span) => span.kind === SpanKind.PRODUCER);
    const runs = spans.filter((span) => span.kind === SpanKind.CONSUMER);
    expect(submits.map((span) => span.name)).toEqual(['submit traced', 'submit traced']);
    const submitOf = (taskId: string) =>
      submits.find((span) => span.attributes['messaging.message.id'] === taskId)!;
    const okSubmit = submitOf(ok.taskId);
    const failedSubmit = submitOf(failed.taskId);
    expect(okSubmit.status.code).toBe(SpanStatusCode.UNSET);
    expect(failedSubmit.status.code).toBe(SpanStatusCode.ERROR);
    expect(failedSubmit.events.map((event) => event.name)).toEqual(['exception']);
    expect(okSubmit.spanContext().traceId).not.toBe(failedSubmit.spanContext().traceId);

    const runsOf = (submit: (typeof submits)[number]) =>
      runs.filter((span) => span.parentSpanContext?.spanId === submit.spanContext().spanId);
    expect(runsOf(okSubmit)).toHaveLength(1);
    expect(runsOf(okSubmit)[0]!.spanContext().traceId).toBe(okSubmit.spanContext().traceId);
    const failedRuns = runsOf(failedSubmit);
    expect(failedRuns.map((span) => span.attributes['taskwire.task.attempt']).sort()).toEqual([1, 2]);
    for (const run of failedRuns) {
      expect(run.spanContext().traceId).toBe(failedSubmit.spanContext().traceId);
      expect(run.status).toMatchObject({ code: SpanStatusCode.ERROR, message: 'negative -1' });
      expect(run.events[0]?.attributes?.['exception.type']).toBe('RangeError');
    }
    expect(runs).toHaveLength(3);
  });
});
