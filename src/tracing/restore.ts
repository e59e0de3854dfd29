/**
 * Worker side: runs a task inside what its call carried. The request context is restored in an
 * AsyncLocalStorage, so `callContext()` answers across the task's awaits; the trace context is
 * made OpenTelemetry's active context, so spans the task starts are children of the call's.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { fromW3C, type Carried } from './carried.js';
import { openTelemetry } from './otel.js';

/** On a global symbol, so that two copies of offload in one worker (source and `dist/`) agree. */
const storeKey = Symbol.for('offload.callContext');
const globals = globalThis as Record<symbol, unknown>;
const requests = (globals[storeKey] ??= new AsyncLocalStorage<{ value: unknown }>()) as AsyncLocalStorage<{ value: unknown }>;

/**
 * In task code: the request context captured at the call by the pool's `captureContext` option
 * (a request id, a tenant...), or `undefined` (no hook, or outside a task).
 */
export function callContext<T = unknown>(): T | undefined {
  return requests.getStore()?.value as T | undefined;
}

/** Runs `run` inside the carried contexts; a malformed carrier is ignored, never fatal. */
export function runCarried<R>(carried: unknown, run: () => R): R {
  if (carried === null || typeof carried !== 'object') return run();
  const { trace, request } = carried as Carried;
  let inner = run;
  if (trace !== undefined) {
    const api = openTelemetry();
    const context = api === undefined ? undefined : fromW3C(api, trace);
    if (context !== undefined) inner = () => api!.context.with(context, run);
  }
  return 'request' in carried ? requests.run({ value: request }, inner) : inner();
}

