/**
 * Pool options: one type, defaults in one place, validated when the pool is created so a typo
 * fails at start-up with the option's name, never later inside a task.
 */
import { availableParallelism } from 'node:os';
const EXECUTORS = ['thread'];
export function resolveOptions(options = {}) {
    if (options === null || typeof options !== 'object')
        throw new TypeError('options must be an object');
    const executor = options.executor ?? 'thread';
    if (!EXECUTORS.includes(executor)) {
        throw new TypeError(`options.executor must be one of ${EXECUTORS.join(', ')} (got ${String(executor)})`);
    }
    if (options.size !== undefined && options.maxSize !== undefined && options.size !== options.maxSize) {
        throw new RangeError(`options.size and options.maxSize disagree (${options.size} and ${options.maxSize}); give one`);
    }
    const maxSize = integer('maxSize', options.maxSize ?? integer('size', options.size ?? availableParallelism(), 1), 1);
    const minSize = integer('minSize', options.minSize ?? 0, 0);
    if (minSize > maxSize)
        throw new RangeError(`options.minSize (${minSize}) exceeds the pool's size (${maxSize})`);
    return {
        executor,
        maxSize,
        minSize,
        idleTimeout: limit('idleTimeout', options.idleTimeout ?? 30_000, 0),
        maxQueue: limit('maxQueue', options.maxQueue ?? Infinity, 0),
        maxTasksPerWorker: limit('maxTasksPerWorker', options.maxTasksPerWorker ?? Infinity, 1),
        cancelGracePeriod: limit('cancelGracePeriod', options.cancelGracePeriod ?? 500, 0),
        name: text('name', options.name ?? 'offload'),
        resourceLimits: options.resourceLimits,
        env: options.env,
        execArgv: options.execArgv,
    };
}
/** An integer at least `min`, or `Infinity`. */
function limit(name, value, min) {
    return value === Infinity ? Infinity : integer(name, value, min);
}
function integer(name, value, min) {
    if (typeof value !== 'number' || !Number.isInteger(value)) {
        throw new TypeError(`options.${name} must be an integer (got ${String(value)})`);
    }
    if (value < min)
        throw new RangeError(`options.${name} must be at least ${min} (got ${value})`);
    return value;
}
function text(name, value) {
    if (typeof value !== 'string' || value === '')
        throw new TypeError(`options.${name} must be a non-empty string`);
    return value;
}
/** Checks a call's options; runs on every call that passes some, so it stays cheap. */
export function checkRunOptions(options) {
    const { signal, timeout, priority } = options;
    if (signal !== undefined && !(signal instanceof AbortSignal))
        throw new TypeError('options.signal must be an AbortSignal');
    if (timeout !== undefined && !(typeof timeout === 'number' && timeout > 0)) {
        throw new RangeError(`options.timeout must be a positive number of milliseconds (got ${String(timeout)})`);
    }
    if (priority !== undefined && !Number.isInteger(priority)) {
        throw new TypeError(`options.priority must be an integer (got ${String(priority)})`);
    }
}
