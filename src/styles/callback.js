/**
 * The callback style (the seed's `run_background`): a Node-style `(error, result)` callback,
 * called exactly once, on the caller's event loop, never synchronously inside `submit`.
 */
import { Failure } from '../pool/task.js';
/** Calls `callback` once `outcome` (a value or a `Failure`) is known. */
export function callBack(outcome, callback) {
    void outcome.then((settled) => {
        if (settled instanceof Failure) {
            const error = settled.toError();
            // Node's convention reads a falsy error as success, so a task that threw `null` is wrapped.
            const reported = error ? error : Object.assign(new Error(`The task threw ${String(error)}`), { thrown: error });
            invokeUserCode(() => callback(reported));
        }
        else {
            invokeUserCode(() => callback(null, settled));
        }
    });
}
/**
 * Runs a user's callback. What it throws surfaces as an uncaught exception, as in any Node
 * callback API; it never reaches the pool, so it can never cause a second call.
 */
export function invokeUserCode(run) {
    try {
        run();
    }
    catch (thrown) {
        process.nextTick(() => {
            throw thrown;
        });
    }
}
