import { Tinypool } from 'tinypool';
import type { Bytes, PoolAdapter } from './adapter.js';

export function start(size: number, workerFile: URL): PoolAdapter {
  const pool = new Tinypool({ filename: workerFile.href, minThreads: size, maxThreads: size });
  return {
    call: (task, input, moveInput) => pool.run(moveInput ? Tinypool.move(input as Bytes) : input, { name: task }),
    // tinypool has no graceful close; destroy() is its only shutdown.
    close: () => pool.destroy(),
  };
}
