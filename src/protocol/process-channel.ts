/**
 * What the process executor's IPC channel needs on both sides, beyond the shared messages.
 *
 * Node's `advanced` serialization is structured clone without the in-process parts: there is
 * no shared memory and nothing to transfer. This file makes those gaps explicit rather than
 * silent: shared memory and ports are refused with the path that holds them, and transferred
 * buffers are detached on the sending side after their bytes are copied, so code behaves the
 * same on threads and processes.
 */
import { MessagePort, type TransferListItem } from 'node:worker_threads';
import { NotCloneableError } from '../errors.js';
import { describeKey, propertyPath } from './clone-path.js';
import type { WorkerInit } from './messages.js';

/** Environment variable carrying the `ProcessWorkerInit` JSON; removed in the child before any task code runs. */
export const INIT_VARIABLE = 'OFFLOAD_PROCESS_WORKER';

export interface ProcessWorkerInit extends WorkerInit {
  /** Whose death the worker watches for, so that it never outlives the pool's process. */
  parentPid: number;
}

/**
 * Child → parent, beside the pool's messages: `[FATAL, encodedError]`, the uncaught error that is
 * about to end the child, so the pool can report it as a thread's would be. A string tag, so it
 * can never collide with the pool's numeric message kinds.
 */
export const FATAL = 'offload:fatal';

/** Why a value cannot reach another process, or `undefined` when it can as far as this check goes. */
function refusalOf(value: object): string | undefined {
  if (value instanceof SharedArrayBuffer) return 'a SharedArrayBuffer is memory shared within one process';
  if (ArrayBuffer.isView(value) && value.buffer instanceof SharedArrayBuffer) {
    return 'a view of a SharedArrayBuffer shares memory within one process';
  }
  if (value instanceof MessagePort) return 'a MessagePort cannot be moved to another process';
  return undefined;
}

/**
 * Finds the first part of `value` that another process cannot receive although structured clone
 * within a process accepts it. Runs only after a send failed or when something was marked for
 * transfer, never on the ordinary path.
 */
export function findProcessRefusal(value: unknown, path: string): NotCloneableError | undefined {
  const seen = new Set<object>();
  const visit = (current: unknown, currentPath: string): NotCloneableError | undefined => {
    if (current === null || typeof current !== 'object' || seen.has(current)) return undefined;
    seen.add(current);
    const reason = refusalOf(current);
    if (reason !== undefined) return new NotCloneableError(currentPath, new TypeError(`${reason}; it cannot be sent to a child process`));
    if (ArrayBuffer.isView(current) || current instanceof ArrayBuffer) return undefined;
    const entries: Array<[string, unknown]> =
      current instanceof Map
        ? [...current].map(([key, inner], i): [string, unknown] => [`${currentPath}.get(${describeKey(key, i)})`, inner])
        : current instanceof Set
          ? [...current].map((inner, i): [string, unknown] => [`${currentPath}[set item ${i}]`, inner])
          : Object.keys(current).map((key): [string, unknown] => [
              Array.isArray(current) ? `${currentPath}[${key}]` : `${currentPath}${propertyPath(key)}`,
              (current as Record<string, unknown>)[key],
            ]);
    for (const [innerPath, inner] of entries) {
      const found = visit(inner, innerPath);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  return visit(value, path);
}

/**
 * Checks the values of a message (each task's arguments, or each result, named `root`) after a
 * send threw or when something was marked for transfer, and throws the `NotCloneableError` that
 * names what a process cannot receive. Returns when nothing process-specific is wrong, leaving
 * the caller to rethrow what it caught.
 */
export function refuseForProcess(values: readonly unknown[], root: string): void {
  for (const value of values) {
    const refusal = findProcessRefusal(value, root);
    if (refusal !== undefined) throw refusal;
  }
}

/**
 * After a send has copied their bytes, detaches the buffers that were marked for transfer, as a
 * transfer between threads would: the sender cannot keep using what it gave away on one executor
 * and not on the other. Moving the backing store into a discarded clone copies nothing.
 */
export function detachTransferred(transfer: readonly TransferListItem[]): void {
  for (const item of transfer) {
    if (!(item instanceof ArrayBuffer)) continue;
    try {
      structuredClone(item, { transfer: [item] });
    } catch {
      // Already detached (listed twice, or by the caller meanwhile): nothing left to give away.
    }
  }
}
