import { createPool, transfer } from 'offload';
import type { Bytes, PoolAdapter } from './adapter.js';

export function start(size: number, workerFile: URL): PoolAdapter {
  const pool = createPool(workerFile, { size });
  return {
    call: (task, input, moveInput) => {
      if (input === undefined) return pool.run(task, []);
      return pool.run(task, [moveInput ? transfer(input as Bytes) : input]);
    },
    close: async () => {
      await pool.close();
    },
  };
}
