/**
 * What the process executor's IPC channel needs on both sides, beyond the shared messages.
 *
 * Node's `advanced` serialization is structured clone without the in-process parts: there is
 * no shared memory and nothing to transfer. This file makes those gaps explicit rather than
 * silent: shared memory and ports are refused, before sending, with the path that holds them;
 * transferred buffers are detached on the sending side after their bytes are copied (see
 * `detachTransferred` in src/transfer.ts, which remote jobs share), so code behaves the same on
 * threads and processes.
 */
import { isDataView, isProxy, isSharedArrayBuffer } from 'node:util/types';
import { MessagePort } from 'node:worker_threads';
import { crypto, net } from '../builtins.js';
import { NotCloneableError } from '../errors.js';
import { childEntries } from './clone-path.js';

/** Environment variable carrying the `WorkerInit` JSON; removed in the child before any task code runs. */
export const INIT_VARIABLE = 'OFFLOAD_PROCESS_WORKER';

/**
 * The child's file descriptor of its control pipe (after stdin, stdout, stderr and IPC): the
 * parent writes cancelled task ids to it, and its end tells the child that the parent is gone.
 */
export const CONTROL_FD = 4;

/**
 * Child → parent, beside the pool's messages: `[FATAL, encodedError]`, the uncaught error that is
 * about to end the child, so the pool can report it as a thread's would be. A string tag, so it
 * can never collide with the pool's numeric message kinds.
 */
export const FATAL = 'offload:fatal';

/**
 * Node's objects that structured clone copies whole between threads, but that the IPC channel's
 * serializer turns into `{}` (it keeps only own enumerable properties of such objects).
 */
let platformCloneables: ReadonlyArray<readonly [Function, string]> | undefined;

/** Built on first use: only pools of processes need the classes' modules. */
function platformCloneablesList(): ReadonlyArray<readonly [Function, string]> {
  return (platformCloneables ??= [
    [Blob, 'a Blob'],
    [crypto().KeyObject, 'a KeyObject'],
    [net().BlockList, 'a BlockList'],
    [net().SocketAddress, 'a SocketAddress'],
    ...cryptoKeyEntry(),
  ]);
}

/**
 * Web Crypto's key class: a global in Node 20, though not in its type declarations. Read here,
 * not when this file loads: the global is a getter that loads Web Crypto (several ms), and this
 * file loads with `offload` in every pool, and in every worker whose task module imports it.
 */
function cryptoKeyEntry(): Array<readonly [Function, string]> {
  const cryptoKey = (globalThis as { CryptoKey?: Function }).CryptoKey;
  return cryptoKey === undefined ? [] : [[cryptoKey, 'a CryptoKey']];
}

/** Why a value cannot reach another process, or `undefined` when it can as far as this check goes. */
function refusalOf(value: object): string | undefined {
  if (isSharedArrayBuffer(value)) return 'a SharedArrayBuffer is memory shared within one process';
  if (ArrayBuffer.isView(value) && isSharedArrayBuffer(bufferOf(value))) {
    return 'a view of a SharedArrayBuffer shares memory within one process';
  }
  if (value instanceof MessagePort) return 'a MessagePort cannot be moved to another process';
  for (const [kind, name] of platformCloneablesList()) {
    if (value instanceof kind) return `${name} would arrive as an empty object; send its data instead`;
  }
  return undefined;
}

const typedArrayBuffer = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), 'buffer')!.get!;
const dataViewBuffer = Object.getOwnPropertyDescriptor(DataView.prototype, 'buffer')!.get!;

/**
 * A view's memory, as the serializer reads it: through the platform's getter, never a `buffer`
 * the caller defined on the view itself (which would hide shared memory from this check).
 */
function bufferOf(view: ArrayBufferView): ArrayBufferLike {
  return (isDataView(view) ? dataViewBuffer : typedArrayBuffer).call(view) as ArrayBufferLike;
}

/**
 * Whether `value` holds anything `refusalOf` refuses. This runs on every message, so it builds
 * no paths and allocates nothing but the set that guards against cycles; typed arrays and
 * buffers are not descended into.
 */
function holdsRefused(value: object, seen: Set<object>): boolean {
  // The channel's serializer refuses a Proxy at once; walking one would run its traps, and a
  // `length` it makes up could hold this thread for as long as it says.
  if (isProxy(value)) return false;
  if (ArrayBuffer.isView(value)) return isSharedArrayBuffer(bufferOf(value));
  if (value instanceof ArrayBuffer) return false;
  if (seen.has(value)) return false;
  seen.add(value);
  if (Array.isArray(value)) {
    let holes = 0;
    for (let i = 0, length = value.length; i < length; i++) {
      const item: unknown = value[i];
      if (item === undefined && !(i in value) && ++holes > HOLES_BEFORE_KEYS) return keysHoldRefused(value, seen);
      if (item !== null && typeof item === 'object' && holdsRefused(item, seen)) return true;
    }
    return false;
  }
  // Only class instances can be what `refusalOf` refuses; plain objects go straight to their keys.
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null && refusalOf(value) !== undefined) return true;
  if (value instanceof Map) {
    for (const [key, item] of value) {
      if (key !== null && typeof key === 'object' && holdsRefused(key, seen)) return true;
      if (item !== null && typeof item === 'object' && holdsRefused(item, seen)) return true;
    }
    return false;
  }
  if (value instanceof Set) {
    for (const item of value) if (item !== null && typeof item === 'object' && holdsRefused(item, seen)) return true;
    return false;
  }
  return keysHoldRefused(value, seen);
}

/**
 * Holes an array's walk passes before it reads the array's own keys instead: a sparse array
 * (`a.length = 2 ** 32 - 1`) costs the serializer only what it holds, and so must this check.
 */
const HOLES_BEFORE_KEYS = 1024;

function keysHoldRefused(value: object, seen: Set<object>): boolean {
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key];
    if (item !== null && typeof item === 'object' && holdsRefused(item, seen)) return true;
  }
  return false;
}

/** Names the first refused part of `value`: the slow half of the check, run once something is found. */
function findRefusal(value: unknown, path: string, seen: Set<object>): NotCloneableError | undefined {
  // Skipped as `holdsRefused` skips it: what it found lies elsewhere, and traps need not run.
  if (value === null || typeof value !== 'object' || seen.has(value) || isProxy(value)) return undefined;
  seen.add(value);
  const reason = refusalOf(value);
  if (reason !== undefined) return new NotCloneableError(path, new TypeError(`${reason}; it cannot be sent to a child process`));
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return undefined;
  const entries = childEntries(value, path);
  for (const [innerPath, inner] of entries) {
    const found = findRefusal(inner, innerPath, seen);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Refuses, before sending, what another process cannot receive although structured clone within
 * a process accepts it: shared memory (which the channel would silently copy, so writes would
 * no longer be shared) and ports (which would arrive as `{}`). Checks the values at
 * `message[first]`, `message[first + step]`... (each task's arguments, each result, each stream
 * item), and throws a `NotCloneableError` naming the path from `root` (`args[0].memory`).
 */
export function refuseProcessLocal(message: readonly unknown[], first: number, step: number, root: string): void {
  let seen: Set<object> | undefined;
  for (let i = first; i < message.length; i += step) {
    const value = message[i];
    if (value === null || typeof value !== 'object') continue;
    seen ??= new Set();
    if (holdsRefused(value, seen)) throw findRefusal(value, root, new Set())!;
  }
}
