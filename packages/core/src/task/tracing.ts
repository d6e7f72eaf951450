// OpenTelemetry spans around submit (master) and run (worker), when @opentelemetry/api is installed. It is an
// optional peer dependency loaded once, lazily, and only once something in the process has registered with it (a
// tracer provider must): until then a check per batch (master) or per task (worker) is all it costs, and a master
// or worker does not load it on its way to its first task.
import type { Context, Span, SpanContext, Tracer } from '@opentelemetry/api';
import type { AttemptOutcome } from './attempt.js';
import type { TaskEnvelope, TaskResult } from './envelope.js';

type OtelApi = typeof import('@opentelemetry/api');

let loading: Promise<OtelApi | undefined> | undefined;

/** `@opentelemetry/api` when it is installed, else undefined (imported once per process). */
function loadOtelApi(): Promise<OtelApi | undefined> {
  loading ??= import('@opentelemetry/api').then(
    (api) => api,
    () => undefined,
  );
  return loading;
}

/**
 * Where @opentelemetry/api 1.x keeps what is registered with it, a tracer provider among them. Absent, nothing has
 * been registered in this process: no span could be recorded, so there is nothing to load yet.
 */
const OTEL_GLOBAL = Symbol.for('opentelemetry.js.api.1');

function otelInUse(): boolean {
  return (globalThis as Record<symbol, unknown>)[OTEL_GLOBAL] !== undefined;
}

/**
 * The tracing of a master or worker. At start it loads the API only when the process already uses it (a tracer
 * provider registered first traces the first task, as before); otherwise it checks per call of {@link get} and
 * loads it in the background once the process does, used from the call after the load.
 */
export class TracingSlot {
  /** The tracing in use, once loaded. */
  current: TaskTracing | undefined;
  private loading = false;

  constructor(private readonly wanted: boolean) {}

  /** Load now when the process already uses the API. */
  async start(): Promise<void> {
    if (!this.wanted || !otelInUse()) return;
    this.loading = true;
    this.current = await TaskTracing.load();
  }

  /** The tracing to use now (per batch or per task). */
  get(): TaskTracing | undefined {
    if (this.current !== undefined || this.loading || !this.wanted) return this.current;
    if (otelInUse()) {
      this.loading = true;
      void TaskTracing.load().then((tracing) => {
        this.current = tracing;
      });
    }
    return undefined;
  }
}

// W3C trace context: version 00, trace id, parent span id, flags.
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** A span context as a W3C `traceparent` header value. */
export function formatTraceparent(spanContext: SpanContext): string {
  return `00-${spanContext.traceId}-${spanContext.spanId}-${(spanContext.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** The W3C trace context of a task as a remote span context, or undefined when it is absent or malformed. */
export function parseTraceparent(
  api: OtelApi,
  traceparent: string | undefined,
  tracestate: string | undefined,
): SpanContext | undefined {
  const match = traceparent === undefined ? null : TRACEPARENT.exec(traceparent);
  if (!match) return undefined;
  const spanContext: SpanContext = {
    traceId: match[1]!,
    spanId: match[2]!,
    traceFlags: Number.parseInt(match[3]!, 16),
    isRemote: true,
  };
  if (tracestate) spanContext.traceState = api.createTraceState(tracestate);
  return api.isSpanContextValid(spanContext) ? spanContext : undefined;
}

/** What the master and the worker trace with; undefined when tracing is off or the API is not installed. */
export class TaskTracing {
  /** Submit spans still waiting for their task's result, by task id. */
  private readonly open = new Map<string, Span>();

  private constructor(
    private readonly api: OtelApi,
    private readonly tracer: Tracer,
  ) {}

  /** Load the API (once per process); undefined when it is not installed. */
  static async load(): Promise<TaskTracing | undefined> {
    const api = await loadOtelApi();
    return api ? new TaskTracing(api, api.trace.getTracer('@taskwire/core')) : undefined;
  }

  /**
   * True when a tracer provider is registered: spans would be recorded. Checked per batch and per task, so one
   * registered after the master or worker started is used from then on.
   */
  get recording(): boolean {
    const provider = this.api.trace.getTracerProvider() as { getDelegate?: () => object };
    const delegate = provider.getDelegate?.() ?? provider;
    return delegate.constructor.name !== 'NoopTracerProvider';
  }

  /**
   * Start the PRODUCER span of a task being submitted, child of the caller's active span, and put its trace
   * context in the task. The span ends when the task's result arrives ({@link settled}).
   */
  submitted<P>(task: TaskEnvelope<P>, queue: string): TaskEnvelope<P> {
    const span = this.tracer.startSpan(`submit ${queue}`, {
      kind: this.api.SpanKind.PRODUCER,
      attributes: {
        'messaging.system': 'taskwire',
        'messaging.operation.name': 'submit',
        'messaging.operation.type': 'send',
        'messaging.destination.name': queue,
        'messaging.message.id': task.id,
        'taskwire.task.kind': task.kind,
      },
    });
    const spanContext = span.spanContext();
    task.traceparent = formatTraceparent(spanContext);
    const tracestate = spanContext.traceState?.serialize();
    if (tracestate) task.tracestate = tracestate;
    this.open.set(task.id, span);
    return task;
  }

  /** A task's result arrived: end its submit span (with an error status when the task failed). */
  settled(result: TaskResult): void {
    if (this.open.size === 0) return;
    const span = this.open.get(result.taskId);
    if (!span) return;
    this.open.delete(result.taskId);
    span.setAttribute('taskwire.task.attempt', result.attempt);
    span.setAttribute('taskwire.worker', result.worker);
    if (!result.ok) {
      const { name = 'Error', message = 'the task failed', stack } = result.error ?? {};
      span.recordException(stack === undefined ? { name, message } : { name, message, stack });
      span.setStatus({ code: this.api.SpanStatusCode.ERROR, message });
    }
    span.end();
  }

  /** Tasks that could not be put, or will get no result (the master closed): end their spans with an error. */
  abandoned(taskIds: Iterable<string>, error: Error): void {
    for (const id of taskIds) {
      const span = this.open.get(id);
      if (!span) continue;
      this.open.delete(id);
      span.recordException(error);
      span.setStatus({ code: this.api.SpanStatusCode.ERROR, message: error.message });
      span.end();
    }
  }

  /** Every task id whose submit span is open. */
  get openTaskIds(): string[] {
    return [...this.open.keys()];
  }

  /**
   * Run one attempt of `task` inside a CONSUMER span, child of the submit span whose context the task carries (a
   * root span when it carries none). The handler runs in the span's context, so its own spans are children of
   * it. A failed attempt records its exception and sets an error status.
   */
  run(
    task: TaskEnvelope,
    attempt: number,
    worker: string,
    queue: string,
    work: () => AttemptOutcome | Promise<AttemptOutcome>,
  ): AttemptOutcome | Promise<AttemptOutcome> {
    const { api } = this;
    const remote = parseTraceparent(api, task.traceparent, task.tracestate);
    const parent: Context = remote
      ? api.trace.setSpanContext(api.context.active(), remote)
      : api.context.active();
    const span = this.tracer.startSpan(
      `run ${queue}`,
      {
        kind: api.SpanKind.CONSUMER,
        attributes: {
          'messaging.system': 'taskwire',
          'messaging.operation.name': 'run',
          'messaging.operation.type': 'process',
          'messaging.destination.name': queue,
          'messaging.message.id': task.id,
          'taskwire.task.kind': task.kind,
          'taskwire.task.attempt': attempt,
          'taskwire.worker': worker,
        },
      },
      parent,
    );
    const end = (outcome: AttemptOutcome): AttemptOutcome => {
      if (!outcome.ok) {
        span.recordException(outcome.error);
        span.setStatus({ code: api.SpanStatusCode.ERROR, message: outcome.error.message });
      }
      span.end();
      return outcome;
    };
    const running = api.context.with(api.trace.setSpan(parent, span), work);
    return running instanceof Promise ? running.then(end) : end(running);
  }
}
