/**
 * Every error offload itself raises. Users match on `code`, which never changes; messages may
 * improve. The README's error table is the contract for this file.
 */
import { quoted } from './quoted.js';

export type OffloadErrorCode =
  | 'ERR_OFFLOAD_QUEUE_FULL'
  | 'ERR_OFFLOAD_TIMEOUT'
  | 'ERR_OFFLOAD_ABORTED'
  | 'ERR_OFFLOAD_WORKER_EXITED'
  | 'ERR_OFFLOAD_UNKNOWN_TASK'
  | 'ERR_OFFLOAD_NOT_CLONEABLE'
  | 'ERR_OFFLOAD_TASK_MODULE'
  | 'ERR_OFFLOAD_CLOSED'
  | 'ERR_OFFLOAD_TOO_LARGE'
  | 'ERR_OFFLOAD_CONNECTION'
  | 'ERR_OFFLOAD_STALLED';

/**
 * The errors offload itself raised in this process, or decoded as raised by offload in a worker.
 * A brand task code cannot forge: a task may throw an error with any `code`, even an instance of
 * these classes built in its own worker, but only this side adds to the set.
 */
const raisedByOffload = new WeakSet<object>();

/** Whether offload raised `error` (as opposed to a task or a framework that borrowed a code). */
export function isRaisedByOffload(error: unknown): boolean {
  return typeof error === 'object' && error !== null && raisedByOffload.has(error);
}

/** Internal: marks an error decoded from a worker's own report as raised by offload. */
export function markRaisedByOffload(error: object): void {
  raisedByOffload.add(error);
}

export class OffloadError extends Error {
  readonly code: OffloadErrorCode;

  constructor(code: OffloadErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    raisedByOffload.add(this);
  }

  override get name(): string {
    return this.constructor.name;
  }
}

/** Admission refused because `maxQueue` tasks are already waiting (load shedding). */
export class QueueFullError extends OffloadError {
  /** Suggested delay before retrying, in milliseconds, from the observed service time. */
  readonly retryAfter: number;

  constructor(maxQueue: number, retryAfter: number) {
    super('ERR_OFFLOAD_QUEUE_FULL', `The task queue is full (maxQueue: ${maxQueue}); retry in about ${retryAfter} ms`);
    this.retryAfter = retryAfter;
  }
}

/** The task's deadline passed while it was queued or running. */
export class TimeoutError extends OffloadError {
  readonly timeout: number;

  constructor(timeout: number) {
    super('ERR_OFFLOAD_TIMEOUT', `The task did not finish within ${timeout} ms`);
    this.timeout = timeout;
  }
}

/** The caller's AbortSignal fired; the signal's reason is the `cause`. */
export class AbortError extends OffloadError {
  constructor(reason: unknown) {
    super('ERR_OFFLOAD_ABORTED', 'The task was aborted', { cause: reason });
  }
}

/** The worker running the task exited before it finished. */
export class WorkerExitedError extends OffloadError {
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** A human reason when known: an uncaught error's message, "out of memory"... */
  readonly reason: string | undefined;

  constructor(detail: { exitCode: number | null; signal?: string | null; reason?: string }, cause?: unknown) {
    const how = detail.signal ? `signal ${detail.signal}` : `exit code ${detail.exitCode ?? 'unknown'}`;
    super(
      'ERR_OFFLOAD_WORKER_EXITED',
      `The worker exited while running the task (${how}${detail.reason ? `: ${detail.reason}` : ''})`,
      cause === undefined ? undefined : { cause },
    );
    this.exitCode = detail.exitCode;
    this.signal = detail.signal ?? null;
    this.reason = detail.reason;
  }
}

/** The task module has no exported function of that name. */
export class UnknownTaskError extends OffloadError {
  readonly task: string;

  constructor(task: string, available: readonly string[]) {
    const list = available.length > 0 ? available.join(', ') : 'none';
    super('ERR_OFFLOAD_UNKNOWN_TASK', `The task module exports no task named ${quoted(task)} (tasks: ${list})`);
    this.task = task;
  }
}

/** A value could not cross the boundary; `path` names it, such as `args[0].conn` or `result`. */
export class NotCloneableError extends OffloadError {
  readonly path: string;

  constructor(path: string, cause?: unknown) {
    const why = cause instanceof Error ? `: ${cause.message}` : '';
    super('ERR_OFFLOAD_NOT_CLONEABLE', `${path} cannot be sent between workers${why}`, { cause });
    this.path = path;
  }
}

/** The task module failed to load in a worker; the load error is the `cause`. */
export class TaskModuleError extends OffloadError {
  readonly moduleUrl: string;

  constructor(moduleUrl: string, cause: unknown) {
    const why = cause instanceof Error ? `: ${cause.message}` : '';
    super('ERR_OFFLOAD_TASK_MODULE', `The task module ${moduleUrl} failed to load${why}`, { cause });
    this.moduleUrl = moduleUrl;
  }
}

/** The pool is closing or closed and takes no new task (or was destroyed with the task pending). */
export class ClosedError extends OffloadError {
  constructor(message = 'The pool is closed') {
    super('ERR_OFFLOAD_CLOSED', message);
  }
}

/**
 * A value too large for the remote executor to put in Redis: `path` is `args` or `result`, `size`
 * and `limit` are in bytes (serialised). Raise `maxPayloadBytes` on both sides, or pass a
 * reference (a key, a URL) instead of the data.
 */
export class PayloadTooLargeError extends OffloadError {
  readonly path: string;
  readonly size: number;
  readonly limit: number;

  constructor(path: string, size: number, limit: number) {
    super('ERR_OFFLOAD_TOO_LARGE', `${path} is ${size} bytes serialised, over the limit of ${limit} (maxPayloadBytes)`);
    this.path = path;
    this.size = size;
    this.limit = limit;
  }
}

/**
 * The remote executor could not reach Redis, or lost the job there (Redis restarted without its
 * data). The task may or may not have run; the connection error, if any, is the `cause`.
 */
export class ConnectionError extends OffloadError {
  constructor(message: string, cause?: unknown) {
    super('ERR_OFFLOAD_CONNECTION', message, cause === undefined ? undefined : { cause });
  }
}

/**
 * A stream's consumer took no item for `stallTimeout` ms: the stream ended with this error and
 * its worker was freed.
 */
export class StreamStalledError extends OffloadError {
  readonly stallTimeout: number;

  constructor(stallTimeout: number) {
    super('ERR_OFFLOAD_STALLED', `The stream's consumer took no item for ${stallTimeout} ms (stallTimeout)`);
    this.stallTimeout = stallTimeout;
  }
}
