/**
 * Errors cross the boundary as plain data and are rebuilt on the other side.
 *
 * Structured clone keeps little of an error (no own properties, no class beyond the built-ins),
 * so the codec carries class name, message, code, stack, cause chain and own enumerable
 * properties explicitly. Decoding trusts nothing: the class comes only from an allow-list, and
 * properties are defined, never assigned, so a `__proto__` key stays a plain own property.
 */
import * as errors from '../errors.js';
import { excerpt } from '../quoted.js';

export interface EncodedErrorObject {
  kind: 'error';
  ctor: string;
  name: string;
  message: string;
  stack: string | undefined;
  props: Record<string, unknown> | undefined;
  cause?: EncodedError;
  errors?: EncodedError[];
  /** Set only by `encodeOwnError`: offload raised it, not the task. */
  own?: true;
}

/** Encodes what a task threw, in the worker running it: never offload's, whatever it is. */
export function encodeThrownByTask(thrown: unknown): EncodedError {
  const encoded = encodeError(thrown);
  if (encoded.kind === 'error') delete encoded.own;
  return encoded;
}

/** A thrown value that is not an Error (a string, `null`, a plain object...). */
export interface EncodedThrownValue {
  kind: 'value';
  value: unknown;
}

export type EncodedError = EncodedErrorObject | EncodedThrownValue;

type ErrorClass = abstract new (...args: never[]) => Error;

const MAX_DEPTH = 8;
/**
 * The class name an error was encoded with, kept on the decoded error: one that crosses two
 * boundaries (a remote worker's thread, then Redis) keeps its class even where the middle hop
 * has not registered it.
 */
const ENCODED_CLASS = Symbol.for('offload.encodedClass');
const SKIPPED_KEYS = new Set(['name', 'message', 'stack', 'cause', 'errors', '__proto__', 'constructor', 'prototype']);

const classes = new Map<string, ErrorClass>([
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
  if (typeof value === 'function' && value.prototype instanceof Error) classes.set(value.name, value as ErrorClass);
}

/**
 * Lets errors of your own class come back as that class. Register the class on the calling side
 * (the worker side needs nothing): it is matched by `constructor.name`.
 */
export function registerErrorClass(errorClass: ErrorClass): void {
  if (typeof errorClass !== 'function' || !(errorClass.prototype instanceof Error || errorClass === Error)) {
    throw new TypeError('registerErrorClass() takes a subclass of Error');
  }
  classes.set(errorClass.name, errorClass);
}

function isCloneable(value: unknown): boolean {
  if (value === null || typeof value !== 'object') {
    return typeof value !== 'function' && typeof value !== 'symbol';
  }
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * Encodes what a task threw. Never throws itself: a thrown value is the task's code, and its
 * getters or Proxy traps may throw in turn; what cannot be read is described instead, so the
 * task fails with an error rather than taking its worker down.
 */
export function encodeError(thrown: unknown, depth = 0): EncodedError {
  try {
    const encoded = encodeReadable(thrown, depth);
    // Offload's brand travels: an error this process raised, or decoded as raised by offload,
    // is decoded as offload's on the other side (a remote worker's refusals, say).
    if (encoded.kind === 'error' && depth === 0 && errors.isRaisedByOffload(thrown)) encoded.own = true;
    return encoded;
  } catch {
    return encodeReadable(new TypeError('A task threw a value that cannot be read (a getter or a Proxy trap threw)'), depth);
  }
}

/**
 * Encodes an error that offload itself raised where task code shares the module instance (a
 * worker: an unknown task, a result that cannot be sent), so the brand cannot be trusted there.
 */
export function encodeOwnError(error: Error): EncodedError {
  const encoded = encodeError(error);
  if (encoded.kind === 'error') encoded.own = true;
  return encoded;
}

function encodeReadable(thrown: unknown, depth: number): EncodedError {
  if (!(thrown instanceof Error)) {
    if (isCloneable(thrown)) return { kind: 'value', value: thrown };
    return encodeReadable(new TypeError(`A task threw a value that cannot be cloned: ${describe(thrown)}`), depth);
  }
  let props: Record<string, unknown> | undefined;
  for (const key of Object.keys(thrown)) {
    if (SKIPPED_KEYS.has(key)) continue;
    const value = readOr(() => (thrown as unknown as Record<string, unknown>)[key], UNREADABLE);
    props ??= {};
    props[key] = value === UNREADABLE ? '[unreadable: its getter threw]' : isCloneable(value) ? value : `[not cloneable: ${describe(value)}]`;
  }
  const stack = readOr(() => thrown.stack, undefined);
  const encoded: EncodedErrorObject = {
    kind: 'error',
    ctor: readOr(() => encodedClassOf(thrown) ?? thrown.constructor?.name ?? 'Error', 'Error'),
    name: readOr(() => String(thrown.name), 'Error'),
    message: readOr(() => String(thrown.message), '[unreadable message: its getter threw]'),
    stack: typeof stack === 'string' ? stack : undefined,
    props,
  };
  if (depth < MAX_DEPTH && readOr(() => 'cause' in thrown, false)) {
    encoded.cause = encodeError(readOr(() => thrown.cause, UNREADABLE_VALUE), depth + 1);
  }
  if (thrown instanceof AggregateError && depth < MAX_DEPTH) {
    const inner = readOr<unknown>(() => thrown.errors, undefined);
    if (Array.isArray(inner)) encoded.errors = inner.map((item: unknown) => encodeError(item, depth + 1));
  }
  return encoded;
}

const UNREADABLE = Symbol('unreadable');
const UNREADABLE_VALUE = '[unreadable: its getter threw]';

/** Reads a part of a thrown value, whose getters are task code that may throw. */
function readOr<T>(read: () => T, fallback: T): T {
  try {
    return read();
  } catch {
    return fallback;
  }
}

/** Rebuilds an error; `callerStack` (frames only) is appended so the stack shows both sides. */
export function decodeError(encoded: EncodedError, callerStack?: string, depth = 0): unknown {
  if (encoded === null || typeof encoded !== 'object') return encoded;
  if (encoded.kind === 'value') return encoded.value;
  const ctor = classes.get(String(encoded.ctor)) ?? Error;
  const error = Object.create(ctor.prototype) as Error;
  if (ctor.name !== encoded.ctor) define(error, ENCODED_CLASS, String(encoded.ctor));
  define(error, 'message', String(encoded.message));
  if (encoded.name !== error.name) define(error, 'name', String(encoded.name));
  const props = encoded.props;
  if (props !== null && typeof props === 'object') {
    for (const key of Object.keys(props)) {
      if (!SKIPPED_KEYS.has(key)) define(error, key, props[key], true);
    }
  }
  if (encoded.cause !== undefined && depth < MAX_DEPTH) define(error, 'cause', decodeError(encoded.cause, undefined, depth + 1));
  if (Array.isArray(encoded.errors) && depth < MAX_DEPTH) {
    define(error, 'errors', encoded.errors.map((inner) => decodeError(inner, undefined, depth + 1)));
  }
  let stack = typeof encoded.stack === 'string' ? encoded.stack : `${String(encoded.name)}: ${String(encoded.message)}`;
  if (callerStack) stack += `\n    at <offload: called from>\n${callerStack}`;
  define(error, 'stack', stack);
  if (encoded.own === true && error instanceof errors.OffloadError) errors.markRaisedByOffload(error);
  return error;
}

function encodedClassOf(error: Error): string | undefined {
  const name = (error as unknown as Record<symbol, unknown>)[ENCODED_CLASS];
  return typeof name === 'string' ? name : undefined;
}

function define(target: object, key: string | symbol, value: unknown, enumerable = false): void {
  Object.defineProperty(target, key, { value, enumerable, writable: true, configurable: true });
}

function describe(value: unknown): string {
  if (typeof value === 'function') return `function ${excerpt(String(value.name)) || '(anonymous)'}`;
  if (typeof value === 'symbol') return value.toString();
  if (value !== null && typeof value === 'object') return `${excerpt(String(value.constructor?.name ?? 'Object'))} object`;
  return typeof value;
}
