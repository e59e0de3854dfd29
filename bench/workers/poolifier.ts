/** poolifier's convention: a `ThreadWorker` built from named task functions, one argument each. */
import { ThreadWorker } from 'poolifier';
import { length, noop, sleep, spin } from './tasks.js';

export default new ThreadWorker<unknown, unknown>({
  noop,
  spin: (iterations) => spin(iterations as number),
  length: (bytes) => length(bytes as Uint8Array),
  sleep: (milliseconds) => sleep(milliseconds as number),
  // poolifier's worker posts results without a transfer list, so the buffer comes back copied.
  echo: (bytes) => bytes,
});
