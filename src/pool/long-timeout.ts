/**
 * A timeout of any length. Node's timers take at most 2^31 − 1 ms and fire after 1 ms beyond it
 * (a 30-day deadline would expire at once), so longer delays are chained; `Infinity` never fires.
 */
const MAX_DELAY_MS = 2 ** 31 - 1;

/** Calls `run` after `ms`; returns the function that cancels it. An `unref`'d timer never holds the process open. */
export function setLongTimeout(run: () => void, ms: number, unref = false): () => void {
  if (ms === Infinity) return () => {};
  let timer: NodeJS.Timeout;
  const arm = (remaining: number): void => {
    const step = Math.min(remaining, MAX_DELAY_MS);
    timer = setTimeout(remaining > MAX_DELAY_MS ? () => arm(remaining - MAX_DELAY_MS) : run, step);
    if (unref) timer.unref();
  };
  arm(ms);
  return () => clearTimeout(timer);
}
