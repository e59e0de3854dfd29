/**
 * `transfer(value)` marks a buffer to be moved rather than copied. The mark is a WeakSet entry,
 * so marking costs nothing to carry and the call site keeps its static type. The pool looks for
 * marks only while some are outstanding, so code that never transfers pays nothing.
 *
 * The marks live on a global symbol: a worker's task loop is bundled on its own (so a worker
 * loads one file), and task code marks through the copy in `offload`'s public entry.
 */
import type { MessagePort, TransferListItem } from 'node:worker_threads';

type Transferable = ArrayBuffer | ArrayBufferView | MessagePort;

interface Marks {
  readonly marked: WeakSet<object>;
  outstanding: number;
}

const marksKey = Symbol.for('offload.transferMarks');
const marks = ((globalThis as Record<symbol, unknown>)[marksKey] ??= { marked: new WeakSet<object>(), outstanding: 0 }) as Marks;
const marked = marks.marked;

/** Marks an `ArrayBuffer`, a typed array / DataView (its buffer moves) or a `MessagePort`. */
export function transfer<T extends Transferable>(value: T): T {
  if (value === null || typeof value !== 'object') {
    throw new TypeError('transfer() takes an ArrayBuffer, a typed array, a DataView or a MessagePort');
  }
  if (!marked.has(value)) {
    marked.add(value);
    marks.outstanding++;
  }
  return value;
}

/** Whether any value is marked and not yet sent: when not, there is nothing to look for. */
export function hasMarks(): boolean {
  return marks.outstanding > 0;
}

/**
 * Collects the transferables marked among `values` (top level, and one level into arrays and
 * plain objects) into `into`, clearing their marks. Returns the list, or `into` unchanged
 * (possibly `undefined`) when nothing was marked.
 */
export function takeMarked(
  values: readonly unknown[],
  into?: TransferListItem[],
): TransferListItem[] | undefined {
  if (marks.outstanding === 0) return into;
  for (const value of values) {
    if (value === null || typeof value !== 'object') continue;
    if (marked.has(value)) {
      into = collect(value, into);
      continue;
    }
    let inner: readonly unknown[] | undefined;
    try {
      inner = Array.isArray(value) ? value : isPlainObject(value) ? Object.values(value) : undefined;
    } catch {
      // A getter or a revoked Proxy threw: sending it fails the same way, and the call's error
      // then names it (ERR_OFFLOAD_NOT_CLONEABLE with its path), marks outstanding or not.
      continue;
    }
    if (inner === undefined) continue;
    for (const item of inner) {
      if (item !== null && typeof item === 'object' && marked.has(item)) into = collect(item, into);
    }
  }
  return into;
}

function collect(value: object, into: TransferListItem[] | undefined): TransferListItem[] | undefined {
  marked.delete(value);
  marks.outstanding--;
  const movable = (ArrayBuffer.isView(value) ? value.buffer : value) as TransferListItem;
  // A SharedArrayBuffer is shared, never moved; listing it would make the send throw.
  if (movable instanceof SharedArrayBuffer) return into;
  into ??= [];
  if (!into.includes(movable)) into.push(movable);
  return into;
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
