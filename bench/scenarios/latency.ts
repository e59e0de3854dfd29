/** Sequential round trip: one no-op call at a time on a pool of 2, each call timed alone. */
import { ascending, percentile } from '../stats.js';
import { sequential } from './load.js';
import type { Scenario } from './scenario.js';

const SIZE = 2;

export const latency: Scenario = async ({ loadPool, workerFile, measureMs }) => {
  const pool = (await loadPool())(SIZE, workerFile);
  const noop = (): PromiseLike<unknown> => pool.call('noop');
  await sequential(noop, Math.min(1_000, measureMs / 2)); // warm-up
  const times = ascending(await sequential(noop, measureMs));
  await pool.close();
  return {
    p50Us: percentile(times, 50) * 1_000,
    p99Us: percentile(times, 99) * 1_000,
    calls: times.length,
  };
};
