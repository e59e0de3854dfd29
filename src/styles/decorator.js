/**
 * `@blocking`: a standard (TC39) method decorator whose method body runs in a worker.
 *
 * The class lives in the pool's own task module, so the same file runs on both sides. On the
 * calling side the method becomes a call into the pool, addressed as `Class#method`; inside a
 * worker it is left as written, and the worker runs it on its own instance of the class, built
 * with no arguments. The caller's instance never crosses the boundary, which is what broke
 * Python's ProcessPoolExecutor in the pattern this replaces.
 */
import { METHOD_SEPARATOR } from '../protocol/messages.js';
import { dispatch } from '../pool/pool.js';
import { isWorker } from '../worker/context.js';
export function blocking(options) {
    if (options === null || typeof options !== 'object' || typeof options.pool !== 'function') {
        throw new TypeError('@blocking needs { pool: () => pool }');
    }
    return function decorate(method, context) {
        if (context.kind !== 'method' || context.static || context.private) {
            throw new TypeError('@blocking decorates public instance methods');
        }
        if (isWorker())
            return method;
        const methodName = String(context.name);
        return async function offloaded(...args) {
            const name = `${this.constructor.name}${METHOD_SEPARATOR}${methodName}`;
            return (await options.pool()[dispatch](name, args));
        };
    };
}
