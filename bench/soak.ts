/**
 * Soak: one million tiny tasks through a pool of 2, a sliding window of 1,000 in flight, with the
 * process's RSS sampled every 100,000 tasks. Memory must stay flat: nothing may grow per task.
 *
 *   npm run bench:soak
 */
import { createPool } from '../src/index.js';

const TOTAL = Number(process.argv[2] ?? 1_000_000);
const WINDOW = 1_000;
const SAMPLE_EVERY = 100_000;
const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);

const pool = createPool<{ add(a: number, b: number): number }>(new URL('./tasks/add.mjs', import.meta.url), { size: 2 });
await pool.warmup();
const samples: Array<{ tasks: number; rssMb: string; heapMb: string }> = [];
const sample = (tasks: number): void => {
  const { rss, heapUsed } = process.memoryUsage();
  samples.push({ tasks, rssMb: mb(rss), heapMb: mb(heapUsed) });
};
sample(0);
const began = performance.now();
await new Promise<void>((resolve) => {
  let sent = 0;
  let done = 0;
  const next = (): void => {
    done++;
    if (done % SAMPLE_EVERY === 0) sample(done);
    if (done === TOTAL) resolve();
    else if (sent < TOTAL) launch();
  };
  const launch = (): void => {
    const i = sent++;
    void pool.tasks.add(i, 1).then(next);
  };
  for (let i = 0; i < WINDOW; i++) launch();
});
const seconds = (performance.now() - began) / 1000;
await pool.close();
console.table(samples);
console.log(`${TOTAL.toLocaleString('en-US')} tasks in ${seconds.toFixed(1)} s (${Math.round(TOTAL / seconds).toLocaleString('en-US')}/s); RSS ${samples[0]!.rssMb} MB at start, ${samples.at(-1)!.rssMb} MB at the end`);
