export { createPool, Pool } from './pool/pool.js';
export { blocking } from './styles/decorator.js';
export { transfer } from './transfer.js';
export { isCancelled, isWorker, progress, taskSignal, throwIfCancelled, workerId } from './worker/context.js';
export { registerErrorClass } from './protocol/error-codec.js';
export { OffloadError, QueueFullError, TimeoutError, AbortError, WorkerExitedError, UnknownTaskError, NotCloneableError, TaskModuleError, ClosedError, } from './errors.js';
