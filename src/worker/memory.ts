/**
 * `maxWorkerMemoryMb`: what a worker counts as its memory. A thread shares its process with the
 * pool, so only its own isolate counts (JavaScript heap in use plus external memory such as
 * Buffers); a process owns its resident set, which also catches native leaks.
 */
import { isMainThread } from 'node:worker_threads';
import { v8 } from '../builtins.js';

const MB = 1024 * 1024;

export function memoryInUseMb(): number {
  if (isMainThread) return process.memoryUsage.rss() / MB;
  // What process.memoryUsage() reports as heapUsed + external, without the resident set it also
  // reads (a tenth of the cost): a worker looks after every task that is not tiny.
  const heap = v8().getHeapStatistics();
  return (heap.used_heap_size + heap.external_memory) / MB;
}
