/**
 * `transfer(value)` marks a buffer to be moved rather than copied. The mark is a WeakSet entry,
 * so marking costs nothing to carry and the call site keeps its static type. The pool looks for
 * marks only while some are outstanding, so code that never transfers pays nothing.
 *
 * The marks live on a global symbol: a worker's task loop is bundled on its own (so a worker
 * loads one file), and task code marks through the copy in `offload`'s public entry.
 */
import { isAnyArrayBuffer, isArrayBuffer } from 'node:util/types';
import { MessagePort, type TransferListItem } from 'node:worker_threads';
import { NotCloneableError } from './errors.js';

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
  // Refused here, where the mistake is, rather than by the send of the call that carries it.
  if (!isMarkable(value)) {
    throw new TypeError(`transfer() takes an ArrayBuffer, a typed array, a DataView or a MessagePort (got ${describe(value)})`);
  }
  if (!marked.has(value)) {
    marked.add(value);
    marks.outstanding++;
  }
  return value;
}

function isMarkable(value: unknown): boolean {
  try {
    return isAnyArrayBuffer(value) || ArrayBuffer.isView(value) || value instanceof MessagePort;
  } catch {
    return false; // a revoked Proxy, whose prototype `instanceof` cannot read
  }
}

/** Whether any value is marked and not yet sent: when not, there is nothing to look for. */
export function hasMarks(): boolean {
  return marks.outstanding > 0;
}

/**
 * Why `item` cannot be listed in a call's `transfer` option, or `undefined` when it can: the kinds
 * Node moves between threads (its `Transferable` type). Checked at admission, so a wrong item is
 * a `TypeError` naming it before anything happens, not a failure of the send.
 */
export function unlistable(item: unknown): string | undefined {
  if (isArrayBuffer(item)) return undefined;
  if (ArrayBuffer.isView(item)) return `${describe(item)}: list its .buffer, or mark the array itself with transfer()`;
  if (isAnyArrayBuffer(item)) return 'a SharedArrayBuffer, which is shared, never moved: pass it without listing it';
  try {
    if (item instanceof MessagePort || isNodeTransferable(item)) return undefined;
  } catch {
    // A revoked Proxy: `instanceof` cannot read its prototype. It cannot move either.
  }
  return `${describe(item)}, which cannot be moved: list ArrayBuffers, MessagePorts, FileHandles or web streams`;
}

/** Node's other transferables: web streams, `AbortSignal` and `FileHandle` (which it does not export). */
function isNodeTransferable(item: unknown): boolean {
  return (
    item instanceof ReadableStream ||
    item instanceof WritableStream ||
    item instanceof TransformStream ||
    item instanceof AbortSignal ||
    (item !== null && typeof item === 'object' && Object.getPrototypeOf(item)?.constructor?.name === 'FileHandle')
  );
}

/**
 * A call's transfer list: the items of its `transfer` option (checked by `unlistable`) and what
 * is marked among its arguments, each once. A buffer listed twice, or marked and listed, or two
 * views of one buffer, move once (a thread's send would refuse the duplicate, a process's would
 * not care). A buffer already detached has nothing left to move and is left out: listed, a
 * thread's send would accept it and its worker fail to read the message; if the arguments hold
 * it, their send now fails with `ERR_OFFLOAD_NOT_CLONEABLE` naming it, on every executor.
 */
export function transferListOf(values: readonly unknown[], listed: readonly TransferListItem[] | undefined): TransferListItem[] | undefined {
  let into: TransferListItem[] | undefined;
  if (listed !== undefined && listed.length > 0) {
    into = [];
    for (const item of new Set(listed)) if (!isDetached(item)) into.push(item);
  }
  return takeMarked(values, into);
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
  try {
    for (const value of values) {
      if (value === null || typeof value !== 'object') continue;
      if (marked.has(value)) {
        into = collect(value, into);
        continue;
      }
      const inner = Array.isArray(value) ? value : isPlainObject(value) ? Object.values(value) : undefined;
      if (inner === undefined) continue;
      for (const item of inner) {
        if (item !== null && typeof item === 'object' && marked.has(item)) into = collect(item, into);
      }
    }
  } catch {
    // A getter or a Proxy (the arguments themselves, or a value among them) threw: sending them
    // fails the same way, and the call's error then names it (ERR_OFFLOAD_NOT_CLONEABLE with its
    // path), marks outstanding or not. What was collected so far still moves.
  }
  return into;
}

function collect(value: object, into: TransferListItem[] | undefined): TransferListItem[] | undefined {
  marked.delete(value);
  marks.outstanding--;
  const movable = (ArrayBuffer.isView(value) ? value.buffer : value) as TransferListItem;
  // A SharedArrayBuffer is shared, never moved; listing it would make the send throw.
  if (movable instanceof SharedArrayBuffer || isDetached(movable)) return into;
  into ??= [];
  if (!into.includes(movable)) into.push(movable);
  return into;
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Whether `item` is an ArrayBuffer that was transferred away (Node 20 has no `detached` getter).
 * Only an empty buffer can be one, and cloning an empty buffer costs nothing.
 */
function isDetached(item: unknown): boolean {
  if (!isArrayBuffer(item) || item.byteLength !== 0) return false;
  try {
    structuredClone(item);
    return false;
  } catch {
    return true;
  }
}

/** What a value is, for an error message, without echoing it. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'function') return 'a function';
  if (typeof value !== 'object') return typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`;
  try {
    if (Array.isArray(value)) return 'an array';
    const prototype: unknown = Object.getPrototypeOf(value);
    if (prototype === Object.prototype || prototype === null) return 'a plain object';
    const name = (prototype as { constructor?: { name?: unknown } }).constructor?.name;
    if (typeof name !== 'string' || !/^[A-Za-z_$][\w$]{0,63}$/.test(name)) return 'an object';
    return /^[AEIO]/.test(name) ? `an ${name}` : `a ${name}`; // "a Uint8Array", "an Int8Array"
  } catch {
    return 'an object'; // a revoked Proxy
  }
}

/**
 * Refuses a transfer list holding anything but ArrayBuffers, for a channel that copies (a child
 * process, a parent process, a remote job): a port or a stream listed in `options.transfer`
 * without being among the values cannot move there, and leaving it behind silently would let
 * the caller believe it moved.
 */
export function refuseUnmovable(transfer: readonly TransferListItem[] | undefined, path: string, destination: string): void {
  if (transfer?.some((item) => !(item instanceof ArrayBuffer))) {
    throw new NotCloneableError(path, new TypeError(`only ArrayBuffers can be transferred to ${destination}`));
  }
}

/**
 * After a send has copied their bytes, detaches the buffers that were marked for transfer, as a
 * transfer between threads would: the sender cannot keep using what it gave away on one executor
 * and not on the other. Moving the backing store into a discarded clone copies nothing.
 */
export function detachTransferred(transfer: readonly TransferListItem[]): void {
  for (const item of transfer) {
    if (!(item instanceof ArrayBuffer)) continue;
    try {
      structuredClone(item, { transfer: [item] });
    } catch {
      // Already detached (listed twice, or by the caller meanwhile): nothing left to give away.
    }
  }
}
