import { Piscina } from 'piscina';
import type { Bytes, PoolAdapter } from './adapter.js';

export function start(size: number, workerFile: URL): PoolAdapter {
  // A fixed pool: piscina otherwise grows to 1.5× the cores and retires idle threads at once.
  const pool = new Piscina({ filename: workerFile.href, minThreads: size, maxThreads: size });
  return {
    call: (task, input, moveInput) => pool.run(moveInput ? Piscina.move(input as Bytes) : input, { name: task }),
    close: () => pool.close(),
  };
}
