/**
 * What task code can learn about where it runs: whether inside an offload worker, and whether
 * the caller gave up on the running task. The state lives on a global symbol so that two copies
 * of offload in one worker (a `.ts` source and its compiled `dist/`) agree.
 */
import { AbortError } from '../errors.js';
import { isFlagged } from '../protocol/cancel-flag.js';
import type { WorkerInit } from '../protocol/messages.js';

/** One running task's own state: what `isCancelled()`, `taskSignal()` and `progress()` read. */
export interface TaskContext {
  /** The task (ids are 31-bit and wrap); `-1` when none runs. */
  taskId: number;
  cancelled: boolean;
  controller: AbortController | undefined;
}

/**
 * Per-worker state, written by the task loop, read by the functions below. It is itself the
 * context of the task running now, unless tasks run concurrently (`concurrentTasksPerWorker`):
 * then each async task carries its own context through its awaits (`contextOf`).
 */
export interface WorkerState extends TaskContext {
  poolName: string;
  workerId: number;
  cancelFlag: Int32Array | undefined;
  /** The context of the task whose code is running, when tasks run concurrently. */
  contextOf: (() => TaskContext | undefined) | undefined;
  /** Sends a progress value for the running task (throttled by the task loop). */
  reportProgress: (taskId: number, value: unknown) => void;
}

const key = Symbol.for('offload.worker');

export function createWorkerState(init: WorkerInit): WorkerState {
  const state: WorkerState = {
    poolName: init.poolName,
    workerId: init.workerId,
    taskId: -1,
    cancelled: false,
    controller: undefined,
    cancelFlag: init.cancelFlag,
    contextOf: undefined,
    reportProgress: () => {},
  };
  (globalThis as Record<symbol, unknown>)[key] = state;
  return state;
}

function state(): WorkerState | undefined {
  return (globalThis as Record<symbol, unknown>)[key] as WorkerState | undefined;
}

/** The running task's context: its own when tasks run concurrently, else the worker's. */
function running(): { worker: WorkerState; task: TaskContext } | undefined {
  const worker = state();
  if (worker === undefined) return undefined;
  return { worker, task: worker.contextOf?.() ?? worker };
}

/**
 * The methods `@blocking` decorated in this worker: the only methods a `Class#method` task name
 * may reach. Kept on a global symbol for the same reason as the worker state.
 */
const blockingKey = Symbol.for('offload.blockingMethods');

function blockingMethods(): WeakSet<Function> {
  const global = globalThis as Record<symbol, unknown>;
  return (global[blockingKey] ??= new WeakSet<Function>()) as WeakSet<Function>;
}

/** Records a method decorated with `@blocking`, as the worker loads the task module. */
export function markBlockingMethod(method: Function): void {
  blockingMethods().add(method);
}

export function isBlockingMethod(value: unknown): boolean {
  return typeof value === 'function' && blockingMethods().has(value);
}

/** `true` inside an offload worker, where `@blocking` methods run their own bodies. */
export function isWorker(): boolean {
  return state() !== undefined;
}

/** This worker's id within its pool, or `undefined` on the main thread. */
export function workerId(): number | undefined {
  return state()?.workerId;
}

/**
 * Whether the caller gave up on the running task (its timeout passed or its signal fired).
 * Cheap enough for a tight loop: on threads it reads shared memory, so a synchronous loop sees
 * the cancellation without yielding.
 */
export function isCancelled(): boolean {
  const current = running();
  if (current === undefined) return false;
  const { worker, task } = current;
  if (!task.cancelled && worker.cancelFlag !== undefined && isFlagged(worker.cancelFlag, task.taskId)) cancelCurrent(task);
  return task.cancelled;
}

/** Throws an `AbortError` (`ERR_OFFLOAD_ABORTED`) when the running task was cancelled. */
export function throwIfCancelled(): void {
  if (isCancelled()) throw new AbortError('the caller cancelled the task');
}

/**
 * The running task's AbortSignal, for async task code (`fetch(url, { signal: taskSignal() })`).
 * It fires when the caller's timeout passes or its signal fires.
 */
export function taskSignal(): AbortSignal {
  const current = running()?.task;
  if (current === undefined || current.taskId === -1) {
    throw new TypeError('taskSignal() is for task code running in an offload worker');
  }
  current.controller ??= new AbortController();
  if (current.cancelled && !current.controller.signal.aborted) current.controller.abort(new AbortError('the caller cancelled the task'));
  return current.controller.signal;
}

/**
 * Reports progress of the running task; the caller receives it through the `onProgress` call
 * option. Throttled, and the latest value always arrives. Does nothing outside a worker task,
 * so the same code can also run inline.
 */
export function progress(value: unknown): void {
  const current = running();
  if (current !== undefined && current.task.taskId !== -1) current.worker.reportProgress(current.task.taskId, value);
}

/** Marks the running task cancelled and fires its signal, if any was asked for. */
export function cancelCurrent(current: TaskContext): void {
  current.cancelled = true;
  if (current.controller !== undefined && !current.controller.signal.aborted) {
    current.controller.abort(new AbortError('the caller cancelled the task'));
  }
}
