const marked = new WeakSet();
let outstanding = 0;
/** Marks an `ArrayBuffer`, a typed array / DataView (its buffer moves) or a `MessagePort`. */
export function transfer(value) {
    if (value === null || typeof value !== 'object') {
        throw new TypeError('transfer() takes an ArrayBuffer, a typed array, a DataView or a MessagePort');
    }
    if (!marked.has(value)) {
        marked.add(value);
        outstanding++;
    }
    return value;
}
/**
 * Collects the transferables marked among `values` (top level, and one level into arrays and
 * plain objects) into `into`, clearing their marks. Returns the list, or `into` unchanged
 * (possibly `undefined`) when nothing was marked.
 */
export function takeMarked(values, into) {
    if (outstanding === 0)
        return into;
    for (const value of values) {
        if (value === null || typeof value !== 'object')
            continue;
        if (marked.has(value)) {
            into = collect(value, into);
            continue;
        }
        const inner = Array.isArray(value) ? value : isPlainObject(value) ? Object.values(value) : undefined;
        if (inner === undefined)
            continue;
        for (const item of inner) {
            if (item !== null && typeof item === 'object' && marked.has(item))
                into = collect(item, into);
        }
    }
    return into;
}
function collect(value, into) {
    marked.delete(value);
    outstanding--;
    const movable = (ArrayBuffer.isView(value) ? value.buffer : value);
    // A SharedArrayBuffer is shared, never moved; listing it would make the send throw.
    if (movable instanceof SharedArrayBuffer)
        return into;
    into ??= [];
    if (!into.includes(movable))
        into.push(movable);
    return into;
}
function isPlainObject(value) {
    const proto = Object.getPrototypeOf(value);
    return proto === Object.prototype || proto === null;
}
