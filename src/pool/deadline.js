/**
 * Wires a call's `timeout` and `signal` to its task. Costs nothing for calls that have
 * neither; for the others, one timer and one listener, both removed when the task settles.
 */
import { AbortError, TimeoutError } from '../errors.js';
export function armDeadline(task, timeout, signal, expire) {
    let timer;
    let onAbort;
    if (timeout !== undefined) {
        timer = setTimeout(() => expire(task, new TimeoutError(timeout)), timeout);
        // The task's worker keeps the process alive while it runs; a timer alone must not.
        timer.unref();
    }
    if (signal !== undefined) {
        onAbort = () => expire(task, new AbortError(signal.reason));
        signal.addEventListener('abort', onAbort, { once: true });
    }
    task.disarm = () => {
        if (timer !== undefined)
            clearTimeout(timer);
        if (onAbort !== undefined)
            signal.removeEventListener('abort', onAbort);
    };
}
