/**
 * The baseline: plain `worker_threads`, one `postMessage` per task, round robin, no queue, no
 * error handling. What the platform costs before any pool logic.
 */
import { Worker } from 'node:worker_threads';
import type { RawRequest, RawResponse } from '../workers/raw.js';
import type { Bytes, PoolAdapter } from './adapter.js';

export function start(size: number, workerFile: URL): PoolAdapter {
  const workers = Array.from({ length: size }, () => new Worker(workerFile));
  const pending = new Map<number, (result: unknown) => void>();
  let nextId = 0;
  for (const worker of workers) {
    worker.on('message', ([id, result]: RawResponse) => {
      const resolve = pending.get(id)!;
      pending.delete(id);
      resolve(result);
    });
  }
  return {
    call: (task, input, moveInput) =>
      new Promise((resolve) => {
        const id = nextId++;
        pending.set(id, resolve);
        const request: RawRequest = [id, task, input];
        workers[id % size]!.postMessage(request, moveInput ? [(input as Bytes).buffer] : undefined);
      }),
    close: async () => {
      await Promise.all(workers.map((worker) => worker.terminate()));
    },
  };
}
