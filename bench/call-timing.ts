/**
 * Times a call two ways, as the quick benches report it: one at a time (p50/p99 of each call)
 * and with a sliding window of calls in flight (calls per second).
 */
export interface CallTiming {
  /** Milliseconds. */
  p50: number;
  p99: number;
  perSecond: number;
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function timeCalls(
  call: () => Promise<unknown>,
  counts: { warmUp: number; sequential: number; total: number; window: number },
): Promise<CallTiming> {
  for (let i = 0; i < counts.warmUp; i++) await call();
  const times: number[] = [];
  for (let i = 0; i < counts.sequential; i++) {
    const start = performance.now();
    await call();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  const began = performance.now();
  await new Promise<void>((resolve) => {
    let sent = 0;
    let done = 0;
    const next = (): void => {
      if (++done === counts.total) resolve();
      else if (sent < counts.total) {
        sent++;
        void call().then(next);
      }
    };
    for (; sent < Math.min(counts.window, counts.total); sent++) void call().then(next);
  });
  return { p50: percentile(times, 50), p99: percentile(times, 99), perSecond: counts.total / ((performance.now() - began) / 1000) };
}
