/**
 * Main side: what a call takes along to its worker, and offload's own span for the call.
 *
 * A call carries something only when there is something to carry: a span active at the call
 * (OpenTelemetry installed), a request context from the pool's `captureContext`, or a context
 * a remote job brought (the remote worker's local pool passes it on, under a span of its own when
 * an SDK is registered in that process). Otherwise `start` returns `undefined` and the call pays
 * two checks.
 *
 * Under an active span, offload starts a span of its own, `offload <task>`, a child of the
 * caller's; the worker's task runs under it. Its attributes say where the time went (waiting
 * for a worker, running) and how the call ended.
 */
import { Failure } from '../pool/task.js';
import { fromW3C, toW3C, type Carried } from './carried.js';
import { mayHaveActiveSpan, openTelemetry, type OtelApi, type OtelContext, type OtelSpan } from './otel.js';
import { now as clock } from '../clock.js';

/** Internal run option: a context a call brings from elsewhere (a remote job), passed on as is. */
export const carriedContext = Symbol('offload.carriedContext');

export interface CarryingOptions {
  [carriedContext]?: unknown;
}

export interface TracingOptions {
  name: string;
  executor: string;
  captureContext: (() => unknown) | undefined;
}

/** The task as the trace needs it: whether it became a stream, and how it failed. */
interface TracedTask {
  readonly id: number;
  readonly name: string;
  readonly enqueuedAt: number;
  stream: unknown;
}

const TRACER_NAME = 'offload';

export class CallTracing {
  readonly #options: TracingOptions;

  constructor(options: TracingOptions) {
    this.#options = options;
  }

  /** What the call carries and its span, or `undefined` when it carries nothing. */
  start(task: TracedTask, options: CarryingOptions | undefined): CallTrace | undefined {
    const api = openTelemetry();
    const capture = this.#options.captureContext;
    const brought = options?.[carriedContext];
    if (api === undefined && capture === undefined && brought === undefined) return undefined;
    // First, so that a hook that throws fails this call before a span is started or it is queued.
    const request = capture === undefined ? undefined : capture();
    let span: OtelSpan | undefined;
    let carried: Carried | undefined = brought as Carried | undefined;
    if (api !== undefined && brought === undefined && mayHaveActiveSpan()) {
      const active = api.context.active();
      if (api.trace.getSpan(active) !== undefined) {
        span = startSpan(api, task, this.#options, active);
        if (span !== undefined) carried = { trace: toW3C(span.spanContext(), api.propagation.getBaggage(active)) };
      }
    } else if (api !== undefined && brought !== null && typeof brought === 'object') {
      // A remote job's trace: this process (an `offload worker`) records its own part of the
      // call, a child of the caller's span, and the task runs under it.
      const parent = fromW3C(api, (brought as Carried).trace);
      if (parent !== undefined) {
        span = startSpan(api, task, this.#options, parent);
        if (span !== undefined) carried = { ...(brought as Carried), trace: toW3C(span.spanContext(), api.propagation.getBaggage(parent)) };
      }
    }
    if (request !== undefined) (carried ??= {}).request = request;
    if (carried === undefined) return undefined;
    return new CallTrace(task, carried, span, api);
  }
}

/** offload's span for a call; `undefined` if the SDK throws (telemetry never fails a call). */
function startSpan(api: OtelApi, task: TracedTask, options: TracingOptions, parent: OtelContext): OtelSpan | undefined {
  try {
    return api.trace.getTracer(TRACER_NAME).startSpan(
      `offload ${task.name}`,
      {
        kind: api.SpanKind.INTERNAL,
        attributes: {
          'offload.task.name': task.name,
          'offload.task.id': task.id,
          'offload.pool.name': options.name,
          'offload.executor': options.executor,
        },
      },
      parent,
    );
  } catch {
    return undefined;
  }
}

export class CallTrace {
  /** The task's name as it travels: `[name, carried]`. */
  readonly address: [string, Carried];
  readonly #task: TracedTask;
  readonly #span: OtelSpan | undefined;
  readonly #api: OtelApi | undefined;
  #dispatchedAt = Number.NaN;
  #busyMs = 0;
  #items = 0;
  #progress = 0;

  constructor(task: TracedTask, carried: Carried, span: OtelSpan | undefined, api: OtelApi | undefined) {
    this.#task = task;
    this.address = [task.name, carried];
    this.#span = span;
    this.#api = api;
  }

  /** The task was handed to a worker (again, after a worker exited: the last hand-over counts). */
  dispatched(workerId: number, now: number): void {
    if (this.#span === undefined) return;
    this.#dispatchedAt = now;
    try {
      this.#span.setAttribute('offload.worker.id', workerId);
      this.#span.addEvent('offload.dispatched', { 'offload.worker.id': workerId });
    } catch {
      // Called while the pool hands tasks over: a throw here would leave a batch half-sent.
    }
  }

  /** The worker's own account of the time it spent running the task. */
  ran(busyMs: number): void {
    this.#busyMs += busyMs;
  }

  itemsReceived(count: number): void {
    this.#items += count;
  }

  progressReceived(): void {
    if (this.#span === undefined) return;
    this.#progress++;
    try {
      this.#span.addEvent('offload.progress');
    } catch {
      // A failing SDK must not reach the worker's message handler.
    }
  }

  /** The call settled: `outcome` is the value, or a `Failure`. */
  end(outcome: unknown): void {
    if (this.#span === undefined) return;
    try {
      this.#record(this.#span, outcome);
    } catch {
      // A failing SDK must not keep the call from settling.
    }
  }

  #record(span: OtelSpan, outcome: unknown): void {
    const failure = outcome instanceof Failure ? outcome : undefined;
    const now = clock();
    const task = this.#task;
    const dispatched = !Number.isNaN(this.#dispatchedAt);
    const attributes: Record<string, string | number | boolean> = {
      'offload.wait_ms': (dispatched ? this.#dispatchedAt : now) - task.enqueuedAt,
      'offload.outcome': failure === undefined ? 'ok' : 'error',
    };
    if (dispatched) {
      attributes['offload.run_ms'] = now - this.#dispatchedAt;
      attributes['offload.busy_ms'] = this.#busyMs;
    }
    if (task.stream !== undefined) {
      attributes['offload.stream'] = true;
      attributes['offload.stream.items'] = this.#items;
    }
    if (this.#progress > 0) attributes['offload.progress.count'] = this.#progress;
    if (failure !== undefined) {
      const error = failure.toError();
      const code = (error as { code?: unknown } | null)?.code;
      // The error's own code (ERR_OFFLOAD_TIMEOUT, ENOENT...), else `task`, as in the statistics.
      attributes['offload.error.code'] = typeof code === 'string' ? code : failure.code;
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: this.#api!.SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    }
    span.setAttributes(attributes);
    span.end();
  }
}
