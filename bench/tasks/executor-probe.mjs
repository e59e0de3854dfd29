// Compiled-style task module for bench/executors.ts: plain JavaScript, as from dist/.
export function noop() {}

/** This worker's resident memory in bytes: the whole process's, for a worker process. */
export function rss() {
  return process.memoryUsage().rss;
}
