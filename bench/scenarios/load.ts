/** Ways of putting load on a pool, shared by the scenarios. */
import { now } from './scenario.js';

export interface WindowRun {
  completed: number;
  elapsedMs: number;
}

/**
 * Keeps `window` calls in flight for `durationMs`: every completion issues the next call. Once
 * the time is up it stops issuing and counts the drain too, so no finished work goes uncounted.
 */
export function slidingWindow(call: () => PromiseLike<unknown>, window: number, durationMs: number): Promise<WindowRun> {
  return new Promise((resolve, reject) => {
    const began = now();
    let inFlight = 0;
    let completed = 0;
    let isStopping = false;
    // A timer rather than a clock read per completion: it costs the hot loop nothing.
    setTimeout(() => {
      isStopping = true;
    }, durationMs);
    const finished = (): void => {
      completed++;
      inFlight--;
      if (!isStopping) issue();
      else if (inFlight === 0) resolve({ completed, elapsedMs: now() - began });
    };
    const issue = (): void => {
      inFlight++;
      call().then(finished, reject);
    };
    for (let i = 0; i < window; i++) issue();
  });
}

/** Calls one at a time for `durationMs` (at least `minimumCalls`), returning each call's time in ms. */
export async function sequential(call: () => PromiseLike<unknown>, durationMs: number, minimumCalls = 1): Promise<number[]> {
  const times: number[] = [];
  const deadline = now() + durationMs;
  while (times.length < minimumCalls || now() < deadline) {
    const began = now();
    await call();
    times.push(now() - began);
  }
  return times;
}

/** Issues `count` calls at once and waits for all of them. */
export function burst(count: number, call: () => PromiseLike<unknown>): Promise<unknown[]> {
  return Promise.all(Array.from({ length: count }, call));
}
