/**
 * `@opentelemetry/api`, loaded only if the application installed it (an optional peer), on
 * whichever side asks: the main thread at pool creation, a worker at its first traced task.
 *
 * The API keeps its registrations (tracer provider, context manager) on a global shared by every
 * copy of it, so loading it from offload's own location sees the application's setup. Only the
 * few members offload uses are typed here, structurally, so offload's types never name a
 * package the user may not have.
 */
import { createRequire } from 'node:module';

export interface OtelContext {
  getValue(key: symbol): unknown;
}

export interface OtelSpanContext {
  traceId: string;
  spanId: string;
  traceFlags: number;
  isRemote?: boolean;
  traceState?: OtelTraceState | undefined;
}

export interface OtelTraceState {
  serialize(): string;
}

export interface OtelSpan {
  spanContext(): OtelSpanContext;
  setAttribute(key: string, value: string | number | boolean): unknown;
  setAttributes(attributes: Record<string, string | number | boolean>): unknown;
  addEvent(name: string, attributes?: Record<string, string | number | boolean>): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  recordException(exception: unknown): void;
  end(): void;
}

interface BaggageEntry {
  value: string;
  metadata?: { toString(): string } | undefined;
}

export interface OtelBaggage {
  getAllEntries(): Array<[string, BaggageEntry]>;
}

export interface OtelApi {
  ROOT_CONTEXT: OtelContext;
  context: {
    active(): OtelContext;
    with<R>(context: OtelContext, fn: () => R): R;
  };
  trace: {
    getSpan(context: OtelContext): OtelSpan | undefined;
    setSpanContext(context: OtelContext, spanContext: OtelSpanContext): OtelContext;
    getTracer(name: string, version?: string): {
      startSpan(name: string, options: { kind: number; attributes: Record<string, string | number | boolean> }, context: OtelContext): OtelSpan;
    };
  };
  propagation: {
    getBaggage(context: OtelContext): OtelBaggage | undefined;
    setBaggage(context: OtelContext, baggage: OtelBaggage): OtelContext;
    createBaggage(entries: Record<string, BaggageEntry>): OtelBaggage;
  };
  createTraceState(raw: string): OtelTraceState;
  baggageEntryMetadataFromString(raw: string): { toString(): string };
  SpanStatusCode: { ERROR: number };
  SpanKind: { INTERNAL: number };
}

let loaded: { api: OtelApi | undefined } | undefined;

/** The API, or `undefined` when it is not installed; looked up once per thread. */
export function openTelemetry(): OtelApi | undefined {
  loaded ??= { api: load('@opentelemetry/api') };
  return loaded.api;
}

/**
 * Where API 1.x (the peer range offload supports) keeps its registrations, shared by every copy
 * of the API in the process. Read directly only to learn cheaply that no context manager is
 * registered; everything else is asked of the API itself.
 */
const API_1_REGISTRY = Symbol.for('opentelemetry.js.api.1');

/**
 * `false` when no span can be active: no context manager is registered, so `context.active()`
 * can only answer the root context. Saves the API's version checks on every call of an
 * application that has the API installed (often as someone else's dependency) but no SDK set up.
 */
export function mayHaveActiveSpan(): boolean {
  const registry = (globalThis as Record<symbol, { context?: unknown } | undefined>)[API_1_REGISTRY];
  return registry?.context !== undefined;
}

/** A module by name, or `undefined` when it cannot be found or fails to load. */
export function load<T>(specifier: string): T | undefined {
  try {
    return createRequire(import.meta.url)(specifier) as T;
  } catch {
    return undefined;
  }
}
