/**
 * A caller's AbortSignal, read and watched through the platform's own accessors and methods.
 * The signal is the caller's object: an own `removeEventListener`, `aborted` or `reason` put on
 * it would otherwise run inside the pool, where a throw from the result path left a call that
 * never settled and escaped as an uncaught exception.
 */
import { isProxy } from 'node:util/types';

const aborted = Object.getOwnPropertyDescriptor(AbortSignal.prototype, 'aborted')!.get!;
const reason = Object.getOwnPropertyDescriptor(AbortSignal.prototype, 'reason')!.get!;
const { addEventListener, removeEventListener } = EventTarget.prototype;

/**
 * Whether `value` is a real AbortSignal: one Node made, not an object that merely inherits from
 * its prototype, nor a Proxy of one (Node's own checks see through a Proxy, whose traps would
 * then run on every later use).
 */
export function isAbortSignal(value: unknown): value is AbortSignal {
  if (isProxy(value) || !(value instanceof AbortSignal)) return false;
  try {
    aborted.call(value);
    return true;
  } catch {
    return false;
  }
}

export function isAborted(signal: AbortSignal): boolean {
  return aborted.call(signal) as boolean;
}

/** The signal's reason; what reading it threw, if it did (its symbol-keyed internals tampered with). */
export function abortReason(signal: AbortSignal): unknown {
  try {
    return reason.call(signal);
  } catch (error) {
    return error;
  }
}

// Without a prototype: a `signal` or `capture` on Object.prototype must not change how the pool listens.
const ONCE: { once: boolean } = Object.assign(Object.create(null) as { once: boolean }, { once: true });

export function onAbort(signal: AbortSignal, listener: () => void): void {
  addEventListener.call(signal, 'abort', listener, ONCE);
}

/** Never throws: it runs as a call settles, and a signal tampered with beyond these methods (its symbol-keyed internals) must not keep the call from settling. */
export function offAbort(signal: AbortSignal, listener: () => void): void {
  try {
    removeEventListener.call(signal, 'abort', listener);
  } catch {
    // The listener stays; it finds no call left to settle if the signal ever fires.
  }
}
