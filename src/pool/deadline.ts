/**
 * Wires a call's `timeout` and `signal` to its task. Costs nothing for calls that have
 * neither; for the others, one timer, and a place among its signal's watchers, both removed
 * when the task settles.
 */
import { AbortError, TimeoutError } from '../errors.js';
import { abortReason, offAbort, onAbort } from './abort-signal.js';
import { setLongTimeout } from './long-timeout.js';
import type { Task } from './task.js';

export function armDeadline(
  task: Task,
  timeout: number | undefined,
  signal: AbortSignal | undefined,
  expire: (task: Task, error: Error) => void,
): void {
  let clearTimer: (() => void) | undefined;
  let aborted: (() => void) | undefined;
  if (signal !== undefined) {
    aborted = () => expire(task, new AbortError(abortReason(signal)));
    watch(signal, aborted);
  }
  if (timeout !== undefined && timeout !== Infinity) {
    // The task's worker keeps the process alive while it runs; a timer alone must not.
    clearTimer = setLongTimeout(() => expire(task, new TimeoutError(timeout)), timeout, true);
  }
  task.disarm = () => {
    if (clearTimer !== undefined) clearTimer();
    if (aborted !== undefined) unwatch(signal!, aborted);
  };
}

/**
 * The calls in flight on each signal, behind ONE listener per signal: a request's signal passed
 * to each of its many calls would otherwise carry a listener per call, and Node warns of a
 * listener leak past ten. Weakly held, and dropped with the signal's last call.
 */
interface Watchers {
  readonly callbacks: Set<() => void>;
  readonly fire: () => void;
}

const watched = new WeakMap<AbortSignal, Watchers>();

function watch(signal: AbortSignal, callback: () => void): void {
  let watchers = watched.get(signal);
  if (watchers === undefined) {
    const callbacks = new Set<() => void>();
    const fire = (): void => {
      watched.delete(signal);
      // A callback settles its call, which unwatches it: deleting the current entry of a Set
      // while iterating it is safe. Nothing here throws (`abortReason` neither), so every call
      // sharing the signal is aborted.
      for (const each of callbacks) each();
    };
    onAbort(signal, fire);
    watchers = { callbacks, fire };
    watched.set(signal, watchers);
  }
  watchers.callbacks.add(callback);
}

function unwatch(signal: AbortSignal, callback: () => void): void {
  const watchers = watched.get(signal);
  if (watchers === undefined || !watchers.callbacks.delete(callback) || watchers.callbacks.size > 0) return;
  watched.delete(signal);
  offAbort(signal, watchers.fire);
}
