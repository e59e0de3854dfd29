/**
 * Threads or processes? For each executor: start-up to first result (compiled, as in production:
 * dist/ and a .js task module; and from source, as in development: .ts through tsx), the no-op
 * round trip (one call at a time, and with 1,000 in flight), and resident memory per idle worker.
 * `npm run bench:executors` (builds dist/ first).
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import * as compiled from '../dist/index.js';
import * as source from '../src/index.js';

type Executor = 'thread' | 'process';
/** What the bench needs of a pool, from either copy of offload (their private fields differ). */
interface BenchPool {
  run(name: string, args: unknown[]): Promise<unknown>;
  warmup(): Promise<void>;
  close(): Promise<unknown>;
}
type CreatePool = (task: URL, options: { executor: Executor; size: number }) => BenchPool;
// As in production: no loader flags, although this bench itself runs under `--import tsx`
// (a worker process would otherwise inherit it, and pay for it in start-up and memory).
const fromDist: CreatePool = (task, options) => compiled.createPool(task, { ...options, ...processEnv(options.executor), execArgv: [] });
const fromSource: CreatePool = (task, options) => source.createPool(task, { ...options, ...processEnv(options.executor) });

// Every Node process reads the file NODE_EXTRA_CA_CERTS names as it starts: on the machine these
// results come from, 50 ms of a 100 ms start, raw's as much as offload's, which would only dilute
// offload's share in the ratio. Worker processes here start without it; threads never read it.
const { NODE_EXTRA_CA_CERTS: extraCaCerts, ...childEnv } = process.env;
function processEnv(executor: Executor): { env?: NodeJS.ProcessEnv } {
  return executor === 'process' ? { env: childEnv } : {};
}

const EXECUTORS: Executor[] = ['thread', 'process'];
const START_SAMPLES = 15;
const SEQUENTIAL = 5_000;
const THROUGHPUT = 50_000;
const WINDOW = 1_000;
const MEMORY_WORKERS = 4;

const compiledTask = new URL('./tasks/executor-probe.mjs', import.meta.url);
const rawEcho = new URL('./tasks/raw-echo.mjs', import.meta.url);
const sourceTask = new URL('./tasks/noop.ts', import.meta.url);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Pool created → first result, in ms: what the first caller after a cold start waits. */
async function startUp(createPool: CreatePool, task: URL, executor: Executor): Promise<number> {
  const began = performance.now();
  const pool = createPool(task, { executor, size: 1 });
  await pool.run('noop', []);
  const elapsed = performance.now() - began;
  await pool.close();
  return elapsed;
}

/** The floor under start-up: a bare worker thread or forked process answering one message. */
async function rawStartUp(executor: Executor): Promise<number> {
  const began = performance.now();
  if (executor === 'thread') {
    const worker = new Worker(rawEcho, { execArgv: [] }); // without this bench's tsx, as fromDist
    worker.postMessage(0);
    await once(worker, 'message');
    const elapsed = performance.now() - began;
    await worker.terminate();
    return elapsed;
  }
  const child = fork(rawEcho, [], { serialization: 'advanced', execArgv: [], env: childEnv });
  child.send(0);
  await once(child, 'message');
  const elapsed = performance.now() - began;
  child.kill();
  await once(child, 'exit');
  return elapsed;
}

interface StartUps {
  raw: number;
  compiled: number;
  source: number;
  /** Median of each round's compiled ÷ raw: a start's cost drifts with the machine's load, and a round's three starts share it. */
  ratio: number;
}

/**
 * Start-up, raw and offload's two builds, interleaved: one start of each per round, their order
 * rotating, so drift in the machine's load moves all three alike instead of one batch.
 */
async function startUps(executor: Executor): Promise<StartUps> {
  const kinds = [
    () => rawStartUp(executor),
    () => startUp(fromDist, compiledTask, executor),
    () => startUp(fromSource, sourceTask, executor),
  ];
  const samples: number[][] = [[], [], []];
  const ratios: number[] = [];
  for (let round = 0; round < START_SAMPLES; round++) {
    for (let k = 0; k < kinds.length; k++) {
      const kind = (round + k) % kinds.length;
      samples[kind]!.push(await kinds[kind]!());
    }
    ratios.push(samples[1]![round]! / samples[0]![round]!);
  }
  return { raw: median(samples[0]!), compiled: median(samples[1]!), source: median(samples[2]!), ratio: median(ratios) };
}

async function roundTrip(executor: Executor): Promise<{ p50: number; p99: number; perSecond: number }> {
  const pool = fromDist(compiledTask, { executor, size: 2 });
  await pool.warmup();
  for (let i = 0; i < 1_000; i++) await pool.run('noop', []);
  const times: number[] = [];
  for (let i = 0; i < SEQUENTIAL; i++) {
    const began = performance.now();
    await pool.run('noop', []);
    times.push((performance.now() - began) * 1000);
  }
  times.sort((a, b) => a - b);
  const began = performance.now();
  await new Promise<void>((resolve) => {
    let sent = 0;
    let done = 0;
    const next = (): void => {
      if (++done === THROUGHPUT) resolve();
      else if (sent < THROUGHPUT) {
        sent++;
        void pool.run('noop', []).then(next);
      }
    };
    for (; sent < WINDOW; sent++) void pool.run('noop', []).then(next);
  });
  const perSecond = THROUGHPUT / ((performance.now() - began) / 1000);
  await pool.close();
  return { p50: times[Math.floor(times.length / 2)]!, p99: times[Math.floor(times.length * 0.99)]!, perSecond };
}

/**
 * Resident memory per idle worker, in MB. A thread shares its process, so it is the parent's
 * growth over the workers; a process is measured by itself (its watchdog thread included).
 */
async function memoryPerWorker(executor: Executor): Promise<number> {
  const pool = fromDist(compiledTask, { executor, size: MEMORY_WORKERS });
  globalThis.gc?.();
  const before = process.memoryUsage().rss;
  await pool.warmup();
  await new Promise((resolve) => setTimeout(resolve, 1000)); // let start-up garbage settle
  let bytes: number;
  if (executor === 'thread') {
    bytes = (process.memoryUsage().rss - before) / MEMORY_WORKERS;
  } else {
    // Idle workers each take one of these calls, so every worker reports once.
    const each = await Promise.all(Array.from({ length: MEMORY_WORKERS }, () => pool.run('rss', []) as Promise<number>));
    bytes = each.reduce((sum, value) => sum + value, 0) / MEMORY_WORKERS;
  }
  await pool.close();
  return bytes / 1024 / 1024;
}

const rows: string[] = [];
for (const executor of EXECUTORS) {
  const starts = await startUps(executor);
  const trip = await roundTrip(executor);
  const memory = await memoryPerWorker(executor);
  rows.push(
    `| ${executor} | ${starts.compiled.toFixed(1)} ms | ${starts.raw.toFixed(1)} ms (×${(starts.compiled / starts.raw).toFixed(2)}; per round ×${starts.ratio.toFixed(2)}) | ${starts.source.toFixed(0)} ms | ${trip.p50.toFixed(1)} µs | ${trip.p99.toFixed(1)} µs | ` +
      `${Math.round(trip.perSecond).toLocaleString('en-US')} | ${memory.toFixed(1)} MB |`,
  );
}
console.log(
  `Node ${process.version}, ${process.platform}/${process.arch}; medians of ${START_SAMPLES} cold starts each, raw and offload interleaved; round trip on a pool of 2` +
    (extraCaCerts === undefined ? '' : '; worker processes start without NODE_EXTRA_CA_CERTS, set here (see bench/executors.ts)'),
);
console.log('| executor | start-up, compiled | raw start-up (offload ÷ raw) | start-up, .ts via tsx | round trip p50 | p99 | tasks/s, 1,000 in flight | memory per idle worker |');
console.log('|---|---|---|---|---|---|---|---|');
for (const row of rows) console.log(row);
