import { fileURLToPath } from 'node:url';
import { FixedThreadPool } from 'poolifier';
import type { Bytes, PoolAdapter } from './adapter.js';

export function start(size: number, workerFile: URL): PoolAdapter {
  const pool = new FixedThreadPool<unknown, unknown>(size, fileURLToPath(workerFile));
  return {
    call: (task, input, moveInput) =>
      pool.execute(input, task, undefined, moveInput ? [(input as Bytes).buffer] : undefined),
    // destroy() is poolifier's only shutdown; it waits for running tasks first.
    close: () => pool.destroy(),
  };
}
