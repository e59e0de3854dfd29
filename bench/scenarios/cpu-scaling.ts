/** CPU-bound scaling: a fixed CPU loop of a few ms, tasks/s with 1 thread, then with 2. */
import type { StartPool } from '../adapters/adapter.js';
import { SPIN_ITERATIONS } from '../workers/tasks.js';
import { slidingWindow } from './load.js';
import type { Scenario } from './scenario.js';

export const cpuScaling: Scenario = async ({ loadPool, workerFile, measureMs }) => {
  const startPool = await loadPool();
  const oneThread = await spinRate(startPool, 1, workerFile, measureMs);
  const twoThreads = await spinRate(startPool, 2, workerFile, measureMs);
  return { oneThreadPerSecond: oneThread, twoThreadsPerSecond: twoThreads, speedup: twoThreads / oneThread };
};

async function spinRate(startPool: StartPool, size: number, workerFile: URL, measureMs: number): Promise<number> {
  const pool = startPool(size, workerFile);
  const spin = (): PromiseLike<unknown> => pool.call('spin', SPIN_ITERATIONS);
  // Two calls per thread in flight: each thread always has its next task waiting, and no pool
  // is rewarded for deep queues.
  const inFlight = 2 * size;
  await slidingWindow(spin, inFlight, Math.min(500, measureMs / 2));
  const run = await slidingWindow(spin, inFlight, measureMs);
  await pool.close();
  return run.completed / (run.elapsedMs / 1_000);
}
