export { createPool, Pool } from './pool/pool.js';
export type { CloseOptions, CloseReport, PoolEvents, RunOptions, StreamOptions } from './pool/pool.js';
export type { StreamHandle, TaskHandle, TaskHandles } from './styles/handle.js';
export type { TaskStream } from './pool/stream.js';
export type { PoolStats, WorkerStats } from './pool/stats.js';
export type { Percentiles } from './pool/histogram.js';
export type { PoolOptions } from './pool/options.js';
export type { CallTaskName, StreamItem, StreamTaskName, TaskArgs, TaskCallback, TaskName, TaskResult, UntypedTasks } from './types.js';
export { blocking } from './styles/decorator.js';
export type { BlockingOptions } from './styles/decorator.js';
// What task code uses, also exported alone by `offload/task`.
export * from './task.js';
export { registerErrorClass } from './protocol/error-codec.js';
