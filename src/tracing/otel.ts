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

/**
 * Where every copy of the API (of major version 1) keeps what the application registered with
 * it: tracer provider, context manager, propagator. The API creates it at the first registration.
 */
const REGISTRY = Symbol.for('opentelemetry.js.api.1');

let loaded: { api: OtelApi | undefined } | undefined;

/**
 * The API, or `undefined` when it is not installed or nothing is registered with it yet; loaded
 * once per thread. Until something is registered, no span can be active (the API's default
 * context manager has none), so there is nothing to carry or restore, and loading the package
 * (tens of ms) would only slow down the start of every pool and worker where it happens to be
 * installed. Checked at each use, so an SDK registered after the pool was created is seen.
 */
export function openTelemetry(): OtelApi | undefined {
  if (loaded === undefined) {
    if (!(REGISTRY in globalThis)) return undefined;
    loaded = { api: load('@opentelemetry/api') };
  }
  return loaded.api;
}

/**
 * `false` when no span can be active: no context manager is registered, so `context.active()`
 * can only answer the root context. Saves the API's version checks on every call where something
 * else was registered (a tracer provider, a propagator) but no context manager.
 */
export function mayHaveActiveSpan(): boolean {
  const registry = (globalThis as Record<symbol, { context?: unknown } | undefined>)[REGISTRY];
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
