/**
 * What task code can learn about where it runs: whether inside an offload worker, and whether
 * the caller gave up on the running task. The state lives on a global symbol so that two copies
 * of offload in one worker (a `.ts` source and its compiled `dist/`) agree.
 */
import { AbortError } from '../errors.js';
const key = Symbol.for('offload.worker');
export function createWorkerState(init) {
    const state = {
        poolName: init.poolName,
        workerId: init.workerId,
        taskId: -1,
        cancelled: false,
        controller: undefined,
        cancelFlag: init.cancelFlag,
        reportProgress: () => { },
    };
    globalThis[key] = state;
    return state;
}
function state() {
    return globalThis[key];
}
/** `true` inside an offload worker, where `@blocking` methods run their own bodies. */
export function isWorker() {
    return state() !== undefined;
}
/** This worker's id within its pool, or `undefined` on the main thread. */
export function workerId() {
    return state()?.workerId;
}
/**
 * Whether the caller gave up on the running task (its timeout passed or its signal fired).
 * Cheap enough for a tight loop: on threads it reads shared memory, so a synchronous loop sees
 * the cancellation without yielding.
 */
export function isCancelled() {
    const current = state();
    if (current === undefined)
        return false;
    if (!current.cancelled && current.cancelFlag !== undefined && Atomics.load(current.cancelFlag, 0) === current.taskId) {
        cancelCurrent(current);
    }
    return current.cancelled;
}
/** Throws an `AbortError` (`ERR_OFFLOAD_ABORTED`) when the running task was cancelled. */
export function throwIfCancelled() {
    if (isCancelled())
        throw new AbortError('the caller cancelled the task');
}
/**
 * The running task's AbortSignal, for async task code (`fetch(url, { signal: taskSignal() })`).
 * It fires when the caller's timeout passes or its signal fires.
 */
export function taskSignal() {
    const current = state();
    if (current === undefined || current.taskId === -1) {
        throw new TypeError('taskSignal() is for task code running in an offload worker');
    }
    current.controller ??= new AbortController();
    if (current.cancelled && !current.controller.signal.aborted)
        current.controller.abort(new AbortError('the caller cancelled the task'));
    return current.controller.signal;
}
/**
 * Reports progress of the running task; the caller receives it through the `onProgress` call
 * option. Throttled, and the latest value always arrives. Does nothing outside a worker task,
 * so the same code can also run inline.
 */
export function progress(value) {
    const current = state();
    if (current !== undefined && current.taskId !== -1)
        current.reportProgress(current.taskId, value);
}
/** Marks the running task cancelled and fires its signal, if any was asked for. */
export function cancelCurrent(current) {
    current.cancelled = true;
    if (current.controller !== undefined && !current.controller.signal.aborted) {
        current.controller.abort(new AbortError('the caller cancelled the task'));
    }
}
