/**
 * Quick per-task round trip on a no-op task: sequential latency (one call at a time) and
 * throughput with 1,000 calls in flight, offload beside a minimal raw worker_threads loop.
 * `npm run bench:roundtrip`. The full comparison with the peers is `npm run bench`.
 */
import { Worker } from 'node:worker_threads';
import { createPool } from '../src/index.js';
import { timeCalls, type CallTiming } from './call-timing.js';

const SEQUENTIAL = 20_000;
const THROUGHPUT = 200_000;
const WINDOW = 1_000;

/** Microseconds, sequential and with a window of calls in flight. */
async function measure(call: () => Promise<unknown>): Promise<CallTiming> {
  const ms = await timeCalls(call, { warmUp: 2_000, sequential: SEQUENTIAL, total: THROUGHPUT, window: WINDOW });
  return { ...ms, p50: ms.p50 * 1000, p99: ms.p99 * 1000 };
}

/** The baseline: one postMessage per task, round robin, no queue logic. */
function rawPool(size: number): { call: () => Promise<unknown>; close: () => Promise<unknown> } {
  const source = `const { parentPort } = require('node:worker_threads');
    parentPort.on('message', (id) => parentPort.postMessage(id));`;
  const workers = Array.from({ length: size }, () => new Worker(source, { eval: true }));
  const pending = new Map<number, (value: unknown) => void>();
  for (const worker of workers) worker.on('message', (id: number) => { pending.get(id)!(id); pending.delete(id); });
  let next = 0;
  return {
    call: () => new Promise((resolve) => { const id = next++; pending.set(id, resolve); workers[id % size]!.postMessage(id); }),
    close: () => Promise.all(workers.map((w) => w.terminate())),
  };
}

const size = 2;
const raw = rawPool(size);
const rawResult = await measure(raw.call);
await raw.close();

const pool = createPool(new URL('./tasks/noop.ts', import.meta.url), { size });
await pool.warmup();
const offloadResult = await measure(() => pool.run('noop', []));
await pool.close();

const row = (name: string, r: typeof rawResult): string =>
  `${name.padEnd(8)} p50 ${r.p50.toFixed(1).padStart(6)} µs   p99 ${r.p99.toFixed(1).padStart(6)} µs   ${Math.round(r.perSecond).toLocaleString('en-US').padStart(9)} tasks/s`;
console.log(`no-op round trip, pool of ${size} threads, Node ${process.version}`);
console.log(row('raw', rawResult));
console.log(row('offload', offloadResult));
console.log(`offload / raw: latency p50 ×${(offloadResult.p50 / rawResult.p50).toFixed(2)}, throughput ×${(offloadResult.perSecond / rawResult.perSecond).toFixed(2)}`);
