/**
 * Message shapes between the pool core and a worker. Both sides import this file.
 *
 * Tasks and results travel in flat arrays, several per message when a backlog exists, because
 * one structured-clone message costs far more than one array slot: batching is what lets the
 * pool beat one-postMessage-per-task designs on tiny tasks.
 */
import type { EncodedError } from './error-codec.js';

/** Main → worker. */
export const ToWorker = {
  /** `[Run, id, task, args, id, task, args, ...]` */
  Run: 0,
  /** `[Close]`: run `teardown()`, answer `Closed`. */
  Close: 1,
  /** `[Cancel, id]`: the caller gave up on task `id`: signal it if running, skip it if not yet. */
  Cancel: 2,
  /** `[Stream, id, task, args, credit]`: run a generator task, sending at most `credit` items ahead. */
  Stream: 3,
  /** `[Pull, id, n]`: the consumer took items; the stream may produce `n` more. */
  Pull: 4,
  /**
   * `[Revoke, id]`, to a worker process still starting: give back task `id`, handed with the
   * spawn, unless it has started (see src/worker/spawn-inbox.ts). Answered by `GivenBack`, or by
   * `Ready` when too late.
   */
  Revoke: 5,
} as const;

/** Worker → main. */
export const FromWorker = {
  /**
   * `[Ready, generatorTasks, memoryMb?]`: the task module loaded; which of its tasks are generators
   * (`undefined`: not known yet); with `maxWorkerMemoryMb`, the memory the worker counts by then.
   */
  Ready: 0,
  /** `[LoadFailed, error]`: the task module threw or could not be found. */
  LoadFailed: 1,
  /** `[Results, busyMs, id, status, value, id, status, value, ...]` */
  Results: 2,
  /** `[Closed]`: teardown finished (its error, if any, was printed by the worker). */
  Closed: 3,
  /** `[Items, id, item, item, ...]`: items a stream yielded. Its end is a `Results` message. */
  Items: 4,
  /** `[Progress, id, value]`: the running task called `progress(value)`. */
  Progress: 5,
  /** `[OverMemory, mb]`: past `maxWorkerMemoryMb` after a task; sent before that task's result. */
  OverMemory: 6,
  /**
   * `[GivenBack, id, args, id, args, ...]`: tasks this worker will never run, with their arguments
   * as it received them (a buffer a call moved is nowhere else now). Before its `Ready`, a worker
   * process still starting gives back the task handed with its spawn, as asked (by `Revoke` or
   * `Cancel`); after it, a worker past `maxWorkerMemoryMb` gives back every task it has not
   * started (but the one handed ahead through the claim cell), right after its `OverMemory`.
   */
  GivenBack: 7,
} as const;

/** Per result in a `Results` message. */
export const Status = { Ok: 0, Failed: 1 } as const;

/**
 * A task as named in `Run` and `Stream`: its name, or `[name, carried]` when the call carries
 * context to the worker (a trace, a request context: see src/tracing/).
 */
export type TaskAddress = string | [name: string, carried: unknown];

/** A task's name as it travels: a bare name, or `[name, carried]` for a call that carries context. */
export function splitAddress(address: unknown): [name: string, carried: unknown] {
  if (Array.isArray(address)) return [address[0] as string, address[1]];
  return [address as string, undefined];
}

/** A task name that addresses a `@blocking` method: `Class#method`. */
export const METHOD_SEPARATOR = '#';

export type RunMessage = [typeof ToWorker.Run, ...unknown[]];
export type ResultsMessage = [typeof FromWorker.Results, number, ...unknown[]];
export type LoadFailedMessage = [typeof FromWorker.LoadFailed, EncodedError];
export type WorkerMessage =
  | ResultsMessage
  | LoadFailedMessage
  | [typeof FromWorker.Ready, string[] | undefined, number?]
  | [typeof FromWorker.Closed]
  | [typeof FromWorker.Items, number, ...unknown[]]
  | [typeof FromWorker.Progress, number, unknown]
  | [typeof FromWorker.OverMemory, number]
  | [typeof FromWorker.GivenBack, ...unknown[]];
export type MainMessage =
  | RunMessage
  | [typeof ToWorker.Close]
  | [typeof ToWorker.Cancel, number]
  | [typeof ToWorker.Stream, number, TaskAddress, unknown[], number]
  | [typeof ToWorker.Pull, number, number]
  | [typeof ToWorker.Revoke, number];

/** What a worker is told at start. */
export interface WorkerInit {
  moduleUrl: string;
  poolName: string;
  workerId: number;
  /**
   * Where executors that share memory (threads) post the id of a cancelled running task, so a
   * synchronous loop can see its cancellation without yielding to receive a message.
   */
  cancelFlag?: Int32Array | undefined;
  /** Where a thread claims a task handed to it ahead of time (see claim-cell.ts). */
  claimCell?: Int32Array | undefined;
  /** Added to the worker's nice value at start (Linux). */
  niceIncrement?: number | undefined;
  /** Past this many MB after a task, the worker says so (`OverMemory`) and is replaced. */
  maxMemoryMb?: number | undefined;
  /** Most async tasks the worker runs at once (`concurrentTasksPerWorker`). Default 1. */
  concurrency?: number | undefined;
}
