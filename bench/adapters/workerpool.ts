import { fileURLToPath } from 'node:url';
import workerpool from 'workerpool';
import type { Bytes, PoolAdapter } from './adapter.js';

export function start(size: number, workerFile: URL): PoolAdapter {
  const pool = workerpool.pool(fileURLToPath(workerFile), { minWorkers: size, maxWorkers: size, workerType: 'thread' });
  return {
    call: (task, input, moveInput) => {
      const args = input === undefined ? [] : [input];
      return pool.exec(task, args, moveInput ? { transfer: [(input as Bytes).buffer] } : undefined);
    },
    // terminate() without `force` lets running tasks finish: workerpool's graceful shutdown.
    close: async () => {
      await pool.terminate();
    },
  };
}
