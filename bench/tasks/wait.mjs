// Tasks for bench/scheduling.ts, as plain JavaScript so every pool loads the same file.
export function noop() {}

/** An async task that waits, as one awaiting a database or `fetch` does. */
export function wait(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
