/**
 * Milliseconds on a monotonic clock, for the durations the pool and its workers measure (wait,
 * run, idle times). Not `performance.now()`: the first read of the global `performance` makes
 * Node load perf_hooks (ten internal modules, about 1 ms of a thread's start and of a pool's first
 * call, which neither needs otherwise); `process.hrtime()` costs the same per read.
 */
export function now(): number {
  // Indexed, not destructured: before V8 optimises it, destructuring runs the iterator protocol.
  const time = process.hrtime();
  return time[0] * 1e3 + time[1] / 1e6;
}
