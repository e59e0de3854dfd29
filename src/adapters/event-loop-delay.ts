/**
 * Samples the main thread's event-loop delay: a timer due every `resolution` ms reports how late
 * it ran. Each lateness is one observation, which is what a Prometheus histogram needs —
 * `perf_hooks.monitorEventLoopDelay` only hands out percentiles, and resetting it on each scrape
 * would make the numbers depend on who scrapes and how often.
 */
export function sampleEventLoopDelay(resolution: number, observe: (delayMs: number) => void): () => void {
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    // Node schedules the next run from this one's start, so each gap is resolution + delay.
    observe(Math.max(0, now - last - resolution));
    last = now;
  }, resolution);
  // Measuring must never be what keeps a process alive.
  timer.unref();
  return () => clearInterval(timer);
}
