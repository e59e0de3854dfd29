/**
 * `offload/task`: what task code uses, without the pool. A task module that imports from here
 * makes its worker load one more small file; importing `offload` instead works the same but
 * loads the whole library (the pool, its executors and scheduling) into every worker. What this
 * entry shares with the worker's task loop (the running task's state, transfer marks, the request
 * context) lives on global symbols, so both copies agree.
 */
export { transfer } from './transfer.js';
export { isCancelled, isWorker, progress, taskSignal, throwIfCancelled, workerId } from './worker/context.js';
export { callContext } from './tracing/restore.js';
export {
  OffloadError,
  QueueFullError,
  TimeoutError,
  AbortError,
  WorkerExitedError,
  UnknownTaskError,
  NotCloneableError,
  TaskModuleError,
  ClosedError,
  PayloadTooLargeError,
  ConnectionError,
  StreamStalledError,
} from './errors.js';
export type { OffloadErrorCode } from './errors.js';
