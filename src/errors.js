/**
 * Every error offload itself raises. Users match on `code`, which never changes; messages may
 * improve. The README's error table is the contract for this file.
 */
export class OffloadError extends Error {
    code;
    constructor(code, message, options) {
        super(message, options);
        this.code = code;
    }
    get name() {
        return this.constructor.name;
    }
}
/** Admission refused because `maxQueue` tasks are already waiting (load shedding). */
export class QueueFullError extends OffloadError {
    /** Suggested delay before retrying, in milliseconds, from the observed service time. */
    retryAfter;
    constructor(maxQueue, retryAfter) {
        super('ERR_OFFLOAD_QUEUE_FULL', `The task queue is full (maxQueue: ${maxQueue}); retry in about ${retryAfter} ms`);
        this.retryAfter = retryAfter;
    }
}
/** The task's deadline passed while it was queued or running. */
export class TimeoutError extends OffloadError {
    timeout;
    constructor(timeout) {
        super('ERR_OFFLOAD_TIMEOUT', `The task did not finish within ${timeout} ms`);
        this.timeout = timeout;
    }
}
/** The caller's AbortSignal fired; the signal's reason is the `cause`. */
export class AbortError extends OffloadError {
    constructor(reason) {
        super('ERR_OFFLOAD_ABORTED', 'The task was aborted', { cause: reason });
    }
}
/** The worker running the task exited before it finished. */
export class WorkerExitedError extends OffloadError {
    exitCode;
    signal;
    constructor(detail, cause) {
        const how = detail.signal ? `signal ${detail.signal}` : `exit code ${detail.exitCode ?? 'unknown'}`;
        super('ERR_OFFLOAD_WORKER_EXITED', `The worker exited while running the task (${how}${detail.reason ? `: ${detail.reason}` : ''})`, cause === undefined ? undefined : { cause });
        this.exitCode = detail.exitCode;
        this.signal = detail.signal ?? null;
    }
}
/** The task module has no exported function of that name. */
export class UnknownTaskError extends OffloadError {
    task;
    constructor(task, available) {
        const list = available.length > 0 ? available.join(', ') : 'none';
        super('ERR_OFFLOAD_UNKNOWN_TASK', `The task module exports no task named "${task}" (tasks: ${list})`);
        this.task = task;
    }
}
/** A value could not cross the boundary; `path` names it, such as `args[0].conn` or `result`. */
export class NotCloneableError extends OffloadError {
    path;
    constructor(path, cause) {
        const why = cause instanceof Error ? `: ${cause.message}` : '';
        super('ERR_OFFLOAD_NOT_CLONEABLE', `${path} cannot be sent between workers${why}`, { cause });
        this.path = path;
    }
}
/** The task module failed to load in a worker; the load error is the `cause`. */
export class TaskModuleError extends OffloadError {
    moduleUrl;
    constructor(moduleUrl, cause) {
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
