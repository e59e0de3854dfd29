/** Tiny-task throughput: no-op calls with 1,000 in flight on a pool of 2. Pure dispatch overhead. */
import { slidingWindow } from './load.js';
import type { Scenario } from './scenario.js';

const SIZE = 2;
const IN_FLIGHT = 1_000;

export const throughput: Scenario = async ({ loadPool, workerFile, measureMs }) => {
  const pool = (await loadPool())(SIZE, workerFile);
  const noop = (): PromiseLike<unknown> => pool.call('noop');
  // Warm-up: workers started, both sides' hot paths compiled by the JIT.
  await slidingWindow(noop, IN_FLIGHT, Math.min(1_000, measureMs / 2));
  const run = await slidingWindow(noop, IN_FLIGHT, measureMs);
  await pool.close();
  return { tasksPerSecond: run.completed / (run.elapsedMs / 1_000) };
};
