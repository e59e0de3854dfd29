/**
 * Whether this code runs inside an offload worker. Kept on a global symbol so that two copies
 * of offload in one worker (a `.ts` source and its compiled `dist/`) agree.
 */
import type { WorkerInit } from '../protocol/messages.js';

const key = Symbol.for('offload.worker');

export function markWorkerContext(init: WorkerInit): void {
  (globalThis as Record<symbol, unknown>)[key] = { poolName: init.poolName, workerId: init.workerId };
}

/** `true` inside an offload worker, where `@blocking` methods run their own bodies. */
export function isWorker(): boolean {
  return (globalThis as Record<symbol, unknown>)[key] !== undefined;
}

/** This worker's id within its pool, or `undefined` on the main thread. */
export function workerId(): number | undefined {
  const context = (globalThis as Record<symbol, unknown>)[key] as { workerId: number } | undefined;
  return context?.workerId;
}
