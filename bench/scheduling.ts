/**
 * The scheduling policies' costs and gains, peers and the raw floor in the same run:
 *
 * 1. 1,000 async 10 ms tasks on a pool of 2: `concurrentTasksPerWorker` 1 vs 16, beside
 *    piscina (the one peer with the option) and raw worker_threads handling messages as they come.
 * 2. The cost of a keyed call vs an unkeyed one (no-op task, round trip and throughput).
 * 3. Tiny-task round trip and throughput with none of the options, this tree vs a baseline tree
 *    (`OFFLOAD_BASELINE=/path/to/src/index.ts`, for example the commit before the policies), so
 *    "unchanged" is measured in one run rather than across runs on a shared machine.
 *
 * `node --import tsx bench/scheduling.ts`
 */
import { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { createPool } from '../src/index.js';
import { timeCalls, type CallTiming } from './call-timing.js';

const SIZE = 2;
const ASYNC_TASKS = 1_000;
const ASYNC_MS = 10;
const tasks = new URL('./tasks/wait.mjs', import.meta.url);

type CreatePool = typeof createPool;

async function timeAll(call: () => Promise<unknown>): Promise<number> {
  const began = performance.now();
  await Promise.all(Array.from({ length: ASYNC_TASKS }, call));
  return performance.now() - began;
}

/** The floor: one postMessage per task, round robin, each message handled as it arrives. */
function rawPool(): { call: (ms: number) => Promise<unknown>; close: () => Promise<unknown> } {
  const source = `const { parentPort } = require('node:worker_threads');
    const noop = () => {};
    parentPort.on('message', ([id, ms]) => {
      if (ms === 0) { noop(); parentPort.postMessage(id); } else setTimeout(() => parentPort.postMessage(id), ms);
    });`;
  const workers = Array.from({ length: SIZE }, () => new Worker(source, { eval: true }));
  const pending = new Map<number, (value: unknown) => void>();
  for (const worker of workers) {
    worker.on('message', (id: number) => {
      pending.get(id)!(id);
      pending.delete(id);
    });
  }
  let next = 0;
  return {
    call: (ms) =>
      new Promise((resolve) => {
        const id = next++;
        pending.set(id, resolve);
        workers[id % SIZE]!.postMessage([id, ms]);
      }),
    close: () => Promise.all(workers.map((worker) => worker.terminate())),
  };
}

async function asyncTasks(): Promise<void> {
  const rows: Array<[string, number]> = [];
  const raw = rawPool();
  await raw.call(0);
  rows.push(['raw worker_threads (no limit)', await timeAll(() => raw.call(ASYNC_MS))]);
  await raw.close();
  for (const concurrency of [1, 16]) {
    const pool = createPool(tasks, { size: SIZE, concurrentTasksPerWorker: concurrency });
    await pool.warmup();
    rows.push([`offload concurrentTasksPerWorker ${concurrency}`, await timeAll(() => pool.run('wait', [ASYNC_MS]))]);
    await pool.close();
    const piscina = new Piscina({ filename: tasks.href, minThreads: SIZE, maxThreads: SIZE, concurrentTasksPerWorker: concurrency });
    await piscina.run(0, { name: 'wait' });
    rows.push([`piscina concurrentTasksPerWorker ${concurrency}`, await timeAll(() => piscina.run(ASYNC_MS, { name: 'wait' }))]);
    await piscina.close();
  }
  console.log(`\n${ASYNC_TASKS} async ${ASYNC_MS} ms tasks, pool of ${SIZE} (ideal with 16: ${(ASYNC_TASKS / (SIZE * 16)) * ASYNC_MS} ms)`);
  const base = rows.find(([name]) => name === 'offload concurrentTasksPerWorker 1')![1];
  for (const [name, ms] of rows) console.log(`  ${name.padEnd(38)} ${ms.toFixed(0).padStart(7)} ms   ×${(base / ms).toFixed(1)} vs offload 1`);
}

const COUNTS = { warmUp: 2_000, sequential: 10_000, total: 100_000, window: 1_000 };

function row(name: string, timing: CallTiming, reference?: CallTiming): string {
  const ratio = reference === undefined ? '' : `   ×${(timing.perSecond / reference.perSecond).toFixed(2)} throughput, ×${(timing.p50 / reference.p50).toFixed(2)} p50`;
  return `  ${name.padEnd(34)} p50 ${(timing.p50 * 1000).toFixed(1).padStart(6)} µs   p99 ${(timing.p99 * 1000).toFixed(1).padStart(6)} µs   ${Math.round(timing.perSecond).toLocaleString('en-US').padStart(9)} calls/s${ratio}`;
}

async function keyedCalls(): Promise<void> {
  const pool = createPool(tasks, { size: SIZE });
  await pool.warmup();
  const unkeyed = await timeCalls(() => pool.run('noop', []), COUNTS);
  await pool.close();
  console.log(`\nno-op calls, pool of ${SIZE}: keyed vs unkeyed (keyed calls of one key run one at a time)`);
  console.log(row('unkeyed', unkeyed));
  for (const keys of [64, 1000]) {
    const keyedPool = createPool(tasks, { size: SIZE });
    await keyedPool.warmup();
    let i = 0;
    const keyed = await timeCalls(() => keyedPool.run('noop', [], { key: `tenant-${i++ % keys}` }), COUNTS);
    await keyedPool.close();
    console.log(row(`keyed, ${keys} keys`, keyed, unkeyed));
  }
}

async function tinyTasks(): Promise<void> {
  const raw = rawPool();
  const rawTiming = await timeCalls(() => raw.call(0), COUNTS);
  await raw.close();
  const trees: Array<[string, CreatePool]> = [['offload (this tree)', createPool]];
  const baseline = process.env.OFFLOAD_BASELINE;
  if (baseline !== undefined) trees.push(['offload (baseline)', ((await import(baseline)) as { createPool: CreatePool }).createPool]);
  console.log(`\nno-op round trip and throughput, pool of ${SIZE}, no scheduling option set`);
  console.log(row('raw worker_threads', rawTiming));
  // A B B A: neither tree always runs first (warmer JIT, calmer machine).
  const order = trees.length === 2 ? [0, 1, 1, 0] : [0];
  const timings: CallTiming[][] = trees.map(() => []);
  for (const index of order) {
    const pool = trees[index]![1](tasks, { size: SIZE });
    await pool.warmup();
    const timing = await timeCalls(() => pool.run('noop', []), COUNTS);
    await pool.close();
    timings[index]!.push(timing);
    console.log(row(trees[index]![0], timing, rawTiming));
  }
  if (trees.length === 2) {
    const mean = (runs: CallTiming[], pick: (timing: CallTiming) => number): number => runs.reduce((sum, run) => sum + pick(run), 0) / runs.length;
    const [mine, base] = timings as [CallTiming[], CallTiming[]];
    console.log(
      `  this tree / baseline (mean of 2 each): throughput ×${(mean(mine, (t) => t.perSecond) / mean(base, (t) => t.perSecond)).toFixed(2)}, p50 ×${(mean(mine, (t) => t.p50) / mean(base, (t) => t.p50)).toFixed(2)}`,
    );
  }
}

console.log(`Node ${process.version}, load average ${(await import('node:os')).loadavg().map((load) => load.toFixed(2)).join(' ')}`);
await asyncTasks();
await keyedCalls();
await tinyTasks();
