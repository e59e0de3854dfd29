/**
 * The main thread's recent event-loop delay, for `/health` and the dashboard: the worst delay
 * over the last one to two seconds. Windows rotate every second, so a stall stays visible for a
 * while after it ends, which is when a blocked server finally gets to answer.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

export interface LoopDelay {
  /** Milliseconds. */
  max: number;
  p99: number;
}

export function watchEventLoop(): { recent(): LoopDelay; stop(): void } {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  let previous: LoopDelay = { max: 0, p99: 0 };
  const read = (): LoopDelay =>
    histogram.count === 0 ? { max: 0, p99: 0 } : { max: histogram.max / 1e6, p99: histogram.percentile(99) / 1e6 };
  const timer = setInterval(() => {
    previous = read();
    histogram.reset();
  }, 1000);
  timer.unref();
  return {
    recent() {
      const current = read();
      return { max: Math.max(previous.max, current.max), p99: Math.max(previous.p99, current.p99) };
    },
    stop() {
      clearInterval(timer);
      histogram.disable();
    },
  };
}
