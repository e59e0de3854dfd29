/** The seed's task module: runs inside the pool's workers. */

/** Blocks its thread for `ms` milliseconds, like `time.sleep` in the seed, then returns `n`. */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** The seed's `blocking_task(n)`: slow, synchronous, returns its argument. */
export function blockingTask(n: number): number {
  sleepSync(100);
  return n;
}
