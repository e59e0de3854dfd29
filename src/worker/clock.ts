/**
 * Milliseconds on a monotonic clock, for durations measured inside a worker. Not
 * `performance.now()`: the first read of the global `performance` makes Node load perf_hooks
 * (ten internal modules, about 1 ms of a thread's start, which a worker never needs otherwise),
 * and `process.hrtime()` is cheaper per read too.
 */
export function now(): number {
  const [seconds, nanoseconds] = process.hrtime();
  return seconds * 1e3 + nanoseconds / 1e6;
}
