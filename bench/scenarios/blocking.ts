/**
 * The seed's case: a pool of 10, 200 calls that each block their thread for 20 ms, all issued
 * at once. Ideal wall time is 200 × 20 / 10 = 400 ms; the main thread's event loop should stay
 * free throughout, which `monitorEventLoopDelay` checks.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { burst } from './load.js';
import { now, type Scenario } from './scenario.js';

const SIZE = 10;
const CALLS = 200;
const SLEEP_MS = 20;
export const IDEAL_MS = (CALLS * SLEEP_MS) / SIZE;

export const blocking: Scenario = async ({ loadPool, workerFile }) => {
  const pool = (await loadPool())(SIZE, workerFile);
  const sleep = (): PromiseLike<unknown> => pool.call('sleep', SLEEP_MS);
  // A first burst, four calls per thread, starts all ten threads: the measured one times steady state.
  await burst(4 * SIZE, sleep);
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  const began = now();
  await burst(CALLS, sleep);
  const wallMs = now() - began;
  loopDelay.disable();
  await pool.close();
  return {
    wallMs,
    overIdealPercent: (wallMs / IDEAL_MS - 1) * 100,
    loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
    loopDelayMaxMs: loopDelay.max / 1e6,
  };
};
