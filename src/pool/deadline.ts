/**
 * Wires a call's `timeout` and `signal` to its task. Costs nothing for calls that have
 * neither; for the others, one timer and one listener, both removed when the task settles.
 */
import { AbortError, TimeoutError } from '../errors.js';
import { setLongTimeout } from './long-timeout.js';
import type { Task } from './task.js';

export function armDeadline(
  task: Task,
  timeout: number | undefined,
  signal: AbortSignal | undefined,
  expire: (task: Task, error: Error) => void,
): void {
  let clearTimer: (() => void) | undefined;
  let onAbort: (() => void) | undefined;
  if (timeout !== undefined && timeout !== Infinity) {
    // The task's worker keeps the process alive while it runs; a timer alone must not.
    clearTimer = setLongTimeout(() => expire(task, new TimeoutError(timeout)), timeout, true);
  }
  if (signal !== undefined) {
    onAbort = () => expire(task, new AbortError(signal.reason));
    signal.addEventListener('abort', onAbort, { once: true });
  }
  task.disarm = () => {
    if (clearTimer !== undefined) clearTimer();
    if (onAbort !== undefined) signal!.removeEventListener('abort', onAbort);
  };
}
