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
};
/** Worker → main. */
export const FromWorker = {
    /** `[Ready, generatorTasks]`: the task module loaded; which of its tasks are generators. */
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
};
/** Per result in a `Results` message. */
export const Status = { Ok: 0, Failed: 1 };
/** A task name that addresses a `@blocking` method: `Class#method`. */
export const METHOD_SEPARATOR = '#';
