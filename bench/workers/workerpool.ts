/** workerpool's convention: the worker registers its methods; `exec(name, args)` calls them. */
import workerpool from 'workerpool';
import { length, noop, sleep, spin } from './tasks.js';

workerpool.worker({
  noop,
  spin,
  length,
  sleep,
  echo: (bytes: Uint8Array) => new workerpool.Transfer(bytes, [bytes.buffer]),
});
