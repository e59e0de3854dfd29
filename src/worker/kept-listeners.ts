/**
 * The listeners a worker process's entry puts on `process`, kept there whatever task code does.
 * Tasks share `process` with the entry: one calling `process.removeAllListeners()` (a library's
 * clean-up, say) would leave the worker deaf to its parent, every later call waiting for ever.
 * What is taken away is put back at once, before the event loop can deliver another message.
 */
import type { EventEmitter } from 'node:events';

type Listener = (...args: unknown[]) => void;
// As a plain emitter: Node's typings list `process` events by name, and these are kept by a name given at run time.
const emitter: EventEmitter = process;

const kept: Array<readonly [string, Listener]> = [];
let isRestoring = false;

/** `process.on(event, listener)`, put back whenever it is removed. */
export function keepListening(event: string, listener: Listener): void {
  kept.push([event, listener]);
  emitter.on(event, listener);
  watchRemovals();
}

const onRemoved = (event: string | symbol, listener: unknown): void => {
  if (isRestoring) return;
  if (listener !== onRemoved && !kept.some(([keptEvent, keptListener]) => keptEvent === event && keptListener === listener)) return;
  isRestoring = true;
  // Not now: `removeAllListeners()` clears every event after telling of each removal, which
  // would take back what this put back; a microtask runs before any message is read.
  queueMicrotask(restore);
};

function restore(): void {
  isRestoring = false;
  for (const [event, listener] of kept) {
    if (emitter.listenerCount(event, listener) === 0) emitter.on(event, listener);
  }
  watchRemovals();
}

function watchRemovals(): void {
  if (emitter.listenerCount('removeListener', onRemoved) === 0) emitter.on('removeListener', onRemoved);
}

/**
 * Puts back what was taken with no word of it: a task that removed the `removeListener`
 * listeners first (Node tells none of its own removal). Called as each result leaves, so it
 * counts in place: `listeners()` would copy the array for every message.
 */
export function checkListening(): void {
  if (!isRestoring && emitter.listenerCount('removeListener', onRemoved) === 0) restore();
}
