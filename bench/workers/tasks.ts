/**
 * The task bodies every pool runs. Each library's worker entry (beside this file) only wraps
 * them in that library's convention, so all pools do exactly the same work.
 */

/** Iterations of `spin` per task: about 3–5 ms of one core on the reference machine. */
export const SPIN_ITERATIONS = 4_000_000;

export function noop(): void {}

/**
 * A fixed amount of CPU work, not a fixed time: a time-based loop would "finish on time" even
 * when two threads share one core, and hide the lack of scaling this task exists to show.
 */
export function spin(iterations: number): number {
  let state = iterations | 0;
  for (let i = 0; i < iterations; i++) state = (Math.imul(state, 1_103_515_245) + 12_345) | 0;
  return state;
}

export function length(bytes: Uint8Array): number {
  return bytes.byteLength;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Blocks the worker's thread (not just its event loop) like a synchronous driver call would. */
export function sleep(milliseconds: number): void {
  Atomics.wait(sleeper, 0, 0, milliseconds);
}
