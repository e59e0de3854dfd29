/**
 * What a call carries to the worker that runs it: the caller's W3C trace context (traceparent,
 * tracestate, baggage) and the request context the pool's `captureContext` returned. It travels
 * as plain data with the task (structured clone to threads and processes, V8-serialised in a
 * remote job), so nothing here depends on a propagator being registered on either side.
 */
import type { OtelApi, OtelBaggage, OtelContext, OtelSpanContext } from './otel.js';

export interface W3CTraceContext {
  /** `00-<trace id>-<span id>-<flags>`. */
  traceparent: string;
  tracestate?: string;
  /** Baggage entries: key, value, and metadata when an entry has some. */
  baggage?: Array<[string, string, string?]>;
}

export interface Carried {
  trace?: W3CTraceContext;
  /** Absent when the pool has no `captureContext`, or it returned `undefined`. */
  request?: unknown;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const INVALID_TRACE = '00000000000000000000000000000000';
const INVALID_SPAN = '0000000000000000';

/** The W3C form of a span's context, with the baggage of the context it was started in. */
export function toW3C(spanContext: OtelSpanContext, baggage: OtelBaggage | undefined): W3CTraceContext {
  const flags = (spanContext.traceFlags & 0xff).toString(16).padStart(2, '0');
  const trace: W3CTraceContext = { traceparent: `00-${spanContext.traceId}-${spanContext.spanId}-${flags}` };
  const state = spanContext.traceState?.serialize();
  if (state) trace.tracestate = state;
  if (baggage !== undefined) {
    const entries = baggage.getAllEntries();
    if (entries.length > 0) {
      trace.baggage = entries.map(([key, entry]) => {
        const metadata = entry.metadata?.toString();
        return metadata ? [key, entry.value, metadata] : [key, entry.value];
      });
    }
  }
  return trace;
}

/**
 * An OpenTelemetry context whose parent span is the carried one (remote, as it crossed a thread
 * or process boundary), with the carried baggage; `undefined` when the data is not a valid
 * trace context (a job in Redis is written by whoever can write to Redis).
 */
export function fromW3C(api: OtelApi, trace: unknown): OtelContext | undefined {
  if (trace === null || typeof trace !== 'object') return undefined;
  const { traceparent, tracestate, baggage } = trace as Partial<Record<keyof W3CTraceContext, unknown>>;
  const parts = typeof traceparent === 'string' ? TRACEPARENT.exec(traceparent) : null;
  if (parts === null || parts[1] === INVALID_TRACE || parts[2] === INVALID_SPAN) return undefined;
  const spanContext: OtelSpanContext = { traceId: parts[1]!, spanId: parts[2]!, traceFlags: Number.parseInt(parts[3]!, 16), isRemote: true };
  if (typeof tracestate === 'string') spanContext.traceState = api.createTraceState(tracestate);
  let context = api.trace.setSpanContext(api.ROOT_CONTEXT, spanContext);
  if (Array.isArray(baggage) && baggage.length > 0) {
    const entries: Record<string, { value: string; metadata?: { toString(): string } }> = {};
    for (const entry of baggage as unknown[]) {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string' || typeof entry[1] !== 'string') continue;
      entries[entry[0]] = typeof entry[2] === 'string' ? { value: entry[1], metadata: api.baggageEntryMetadataFromString(entry[2]) } : { value: entry[1] };
    }
    context = api.propagation.setBaggage(context, api.propagation.createBaggage(entries));
  }
  return context;
}
