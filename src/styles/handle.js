import { enqueuePending, streamTaskNames } from '../pool/pool.js';
export function createHandles(pool) {
    const untyped = pool;
    const handles = new Map();
    return new Proxy(Object.create(null), {
        get(_, name) {
            // `then` would make the handle object look like a promise to `await`.
            if (typeof name !== 'string' || name === 'then')
                return undefined;
            let handle = handles.get(name);
            if (handle === undefined) {
                const call = (options) => (...args) => callTask(untyped, name, args, options);
                handle = Object.assign(call(undefined), { with: (options) => call(options) });
                handles.set(name, handle);
            }
            return handle;
        },
    });
}
function callTask(pool, name, args, options) {
    const generators = pool[streamTaskNames];
    if (generators !== undefined)
        return generators.has(name) ? pool.stream(name, args, options) : pool.run(name, args, options);
    try {
        return new PendingCall(name, pool[enqueuePending](name, args, options));
    }
    catch (error) {
        return Promise.reject(error);
    }
}
/** A first call whose task kind is not known yet; see the module comment. */
class PendingCall {
    #name;
    #pending;
    #promise;
    #stream;
    constructor(name, pending) {
        this.#name = name;
        this.#pending = pending;
    }
    get [Symbol.toStringTag]() {
        return 'Promise';
    }
    then(onFulfilled, onRejected) {
        return this.#asPromise().then(onFulfilled, onRejected);
    }
    catch(onRejected) {
        return this.#asPromise().catch(onRejected);
    }
    finally(onFinally) {
        return this.#asPromise().finally(onFinally);
    }
    [Symbol.asyncIterator]() {
        this.#stream ??= this.#promise === undefined ? this.#pending.streamInstead() : undefined;
        if (this.#stream === undefined) {
            throw new TypeError(`This call of "${this.#name}" already runs as a plain call; iterate it in the tick it is made, or use pool.stream()`);
        }
        return this.#stream;
    }
    #asPromise() {
        if (this.#stream !== undefined) {
            return Promise.reject(new TypeError(`This call of "${this.#name}" is being iterated as a stream`));
        }
        this.#promise ??= this.#pending.result();
        return this.#promise;
    }
}
