/**
 * Opt-in tracing for the demo: `OFFLOAD_TRACE=console npm start` prints every finished span to
 * the console, so a request's span shows offload's span for its task under it, and under that
 * the span the task made in its worker — one trace across the thread boundary.
 *
 * Both sides import this file: the server, and the task module (each worker thread has its own
 * OpenTelemetry globals, so each registers its own SDK: that import is the one line a task module
 * needs). Unset, nothing is registered and the API's no-op tracer costs next to nothing.
 */
import { context, SpanKind, trace, type Span } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, ConsoleSpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { FastifyInstance } from 'fastify';

export const isTracing = process.env.OFFLOAD_TRACE === 'console';

if (isTracing) {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(new ConsoleSpanExporter())] }));
}

const tracer = trace.getTracer('offload-demo');

/** Runs `fn` in a span of its own, a child of whatever span is active. */
export function inSpan<T>(name: string, fn: () => T): T {
  return tracer.startActiveSpan(name, (span) => {
    try {
      return fn();
    } finally {
      span.end();
    }
  });
}

/** Polled several times a second by the dashboard: not worth a span each. */
const UNTRACED = /^\/(health|metrics|dashboard)/;

/** A server span per request, active while the route runs, so the calls it makes join its trace. */
export function traceRequests(app: FastifyInstance): void {
  if (!isTracing) return;
  const spans = new WeakMap<object, Span>();
  app.addHook('onRequest', (request, _reply, done) => {
    if (UNTRACED.test(request.url)) return done();
    const route = request.routeOptions.url ?? request.url;
    const span = tracer.startSpan(`${request.method} ${route}`, {
      kind: SpanKind.SERVER,
      attributes: { 'http.request.method': request.method, 'http.route': route, 'url.path': request.url },
    });
    spans.set(request, span);
    context.with(trace.setSpan(context.active(), span), done);
  });
  app.addHook('onResponse', (request, reply, done) => {
    const span = spans.get(request);
    span?.setAttribute('http.response.status_code', reply.statusCode);
    span?.end();
    done();
  });
}
