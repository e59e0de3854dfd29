/**
 * Errors cross the boundary as plain data and are rebuilt on the other side.
 *
 * Structured clone keeps little of an error (no own properties, no class beyond the built-ins),
 * so the codec carries class name, message, code, stack, cause chain and own enumerable
 * properties explicitly. Decoding trusts nothing: the class comes only from an allow-list, and
 * properties are defined, never assigned, so a `__proto__` key stays a plain own property.
 */
import * as errors from '../errors.js';
const MAX_DEPTH = 8;
const SKIPPED_KEYS = new Set(['name', 'message', 'stack', 'cause', 'errors', '__proto__', 'constructor', 'prototype']);
const classes = new Map([
    ['Error', Error],
    ['TypeError', TypeError],
    ['RangeError', RangeError],
    ['SyntaxError', SyntaxError],
    ['ReferenceError', ReferenceError],
    ['EvalError', EvalError],
    ['URIError', URIError],
    ['AggregateError', AggregateError],
]);
for (const value of Object.values(errors)) {
    if (typeof value === 'function' && value.prototype instanceof Error)
        classes.set(value.name, value);
}
/**
 * Lets errors of your own class come back as that class. Register the class on the calling side
 * (the worker side needs nothing): it is matched by `constructor.name`.
 */
export function registerErrorClass(errorClass) {
    if (typeof errorClass !== 'function' || !(errorClass.prototype instanceof Error || errorClass === Error)) {
        throw new TypeError('registerErrorClass() takes a subclass of Error');
    }
    classes.set(errorClass.name, errorClass);
}
function isCloneable(value) {
    if (value === null || typeof value !== 'object') {
        return typeof value !== 'function' && typeof value !== 'symbol';
    }
    try {
        structuredClone(value);
        return true;
    }
    catch {
        return false;
    }
}
export function encodeError(thrown, depth = 0) {
    if (!(thrown instanceof Error)) {
        if (isCloneable(thrown))
            return { kind: 'value', value: thrown };
        return encodeError(new TypeError(`A task threw a value that cannot be cloned: ${describe(thrown)}`), depth);
    }
    let props;
    for (const key of Object.keys(thrown)) {
        if (SKIPPED_KEYS.has(key))
            continue;
        const value = thrown[key];
        props ??= {};
        props[key] = isCloneable(value) ? value : `[not cloneable: ${describe(value)}]`;
    }
    const encoded = {
        kind: 'error',
        ctor: thrown.constructor?.name ?? 'Error',
        name: String(thrown.name),
        message: String(thrown.message),
        stack: typeof thrown.stack === 'string' ? thrown.stack : undefined,
        props,
    };
    if ('cause' in thrown && depth < MAX_DEPTH)
        encoded.cause = encodeError(thrown.cause, depth + 1);
    if (thrown instanceof AggregateError && Array.isArray(thrown.errors) && depth < MAX_DEPTH) {
        encoded.errors = thrown.errors.map((inner) => encodeError(inner, depth + 1));
    }
    return encoded;
}
/** Rebuilds an error; `callerStack` (frames only) is appended so the stack shows both sides. */
export function decodeError(encoded, callerStack, depth = 0) {
    if (encoded === null || typeof encoded !== 'object')
        return encoded;
    if (encoded.kind === 'value')
        return encoded.value;
    const ctor = classes.get(String(encoded.ctor)) ?? Error;
    const error = Object.create(ctor.prototype);
    define(error, 'message', String(encoded.message));
    if (encoded.name !== error.name)
        define(error, 'name', String(encoded.name));
    const props = encoded.props;
    if (props !== null && typeof props === 'object') {
        for (const key of Object.keys(props)) {
            if (!SKIPPED_KEYS.has(key))
                define(error, key, props[key], true);
        }
    }
    if (encoded.cause !== undefined && depth < MAX_DEPTH)
        define(error, 'cause', decodeError(encoded.cause, undefined, depth + 1));
    if (Array.isArray(encoded.errors) && depth < MAX_DEPTH) {
        define(error, 'errors', encoded.errors.map((inner) => decodeError(inner, undefined, depth + 1)));
    }
    let stack = typeof encoded.stack === 'string' ? encoded.stack : `${String(encoded.name)}: ${String(encoded.message)}`;
    if (callerStack)
        stack += `\n    at <offload: called from>\n${callerStack}`;
    define(error, 'stack', stack);
    return error;
}
function define(target, key, value, enumerable = false) {
    Object.defineProperty(target, key, { value, enumerable, writable: true, configurable: true });
}
function describe(value) {
    if (typeof value === 'function')
        return `function ${value.name || '(anonymous)'}`;
    if (typeof value === 'symbol')
        return value.toString();
    if (value !== null && typeof value === 'object')
        return `${value.constructor?.name ?? 'Object'} object`;
    return typeof value;
}
