/**
 * `maxWorkerMemoryMb`: what a worker counts as its memory. A thread shares its process with the
 * pool, so only its own isolate counts (JavaScript heap in use plus external memory such as
 * Buffers); a process owns its resident set, which also catches native leaks.
 */
import { isMainThread } from 'node:worker_threads';

const MB = 1024 * 1024;

export function memoryInUseMb(): number {
  if (isMainThread) return process.memoryUsage.rss() / MB;
  const usage = process.memoryUsage();
  return (usage.heapUsed + usage.external) / MB;
}
