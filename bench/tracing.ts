/**
 * What tracing costs when it is not used, and what it costs when it is. The no-op round trip
 * (one call at a time: p50) and tiny-task throughput (1,000 calls in flight), in one process,
 * rounds interleaved, for:
 *
 *   baseline     offload as on the baseline ref (default `main`), built from it by this bench
 *   api absent   this branch, copied where `@opentelemetry/api` cannot be resolved
 *   no span      this branch, with the API, an SDK tracer provider and a context manager
 *                registered, calls made with no active span
 *   and, for information, what using it costs: a `captureContext` hook, and calls under an
 *   active, sampled span (offload's span recorded, then dropped by a no-op processor).
 *
 * `npm run bench:tracing` (builds dist/ first). `TRACING_BASELINE_REF=<ref>` picks the baseline.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, NoopSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { timeCalls } from './call-timing.js';

interface BenchPool {
  run(name: string, args: unknown[]): Promise<unknown>;
  warmup(): Promise<void>;
  close(): Promise<unknown>;
}
type CreatePool = (task: URL, options: { size: number; captureContext?: () => unknown }) => BenchPool;

const ROUNDS = 5;
const SIZE = 2;
const COUNTS = { warmUp: 2_000, sequential: 5_000, total: 50_000, window: 1_000 };
const root = new URL('..', import.meta.url).pathname;
const baselineRef = process.env.TRACING_BASELINE_REF ?? 'main';

const scratch = mkdtempSync(join(tmpdir(), 'offload-bench-tracing-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

/** The baseline's dist/, compiled from its sources with this checkout's TypeScript. */
function buildBaseline(): string {
  const dir = join(scratch, 'baseline');
  execFileSync('mkdir', ['-p', dir]);
  const archive = execFileSync('git', ['archive', '--format=tar', baselineRef, 'src', 'package.json', 'tsconfig.base.json', 'tsconfig.build.json'], { cwd: root });
  execFileSync('tar', ['-x', '-C', dir], { input: archive });
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: dir });
  return join(dir, 'dist/index.js');
}

/** This branch's dist/, installed in a directory with no node_modules around it: the API is absent. */
function installWithoutApi(): string {
  const installed = join(scratch, 'absent/node_modules/offload');
  cpSync(join(root, 'dist'), join(installed, 'dist'), { recursive: true });
  cpSync(join(root, 'package.json'), join(installed, 'package.json'));
  return join(installed, 'dist/index.js');
}

async function load(path: string): Promise<CreatePool> {
  const module = (await import(path)) as { createPool: CreatePool };
  return module.createPool;
}

const task = new URL(`file://${join(scratch, 'noop.mjs')}`);
writeFileSync(task, 'export function noop() {}\n');

const baseline = await load(buildBaseline());
const absent = await load(installWithoutApi());
const present = await load(join(root, 'dist/index.js'));

const tracer = trace.getTracer('bench');
const requests = new AsyncLocalStorage<{ requestId: string }>();

interface Variant {
  name: string;
  create: () => BenchPool;
  /** How a call is made (inside a request, or a span). */
  around?: (call: () => Promise<unknown>) => Promise<unknown>;
}

type Results = Map<string, { p50: number[]; perSecond: number[] }>;

async function measure(variants: Variant[]): Promise<Results> {
  const results: Results = new Map(variants.map((variant) => [variant.name, { p50: [], perSecond: [] }]));
  for (let round = 0; round < ROUNDS; round++) {
    // Rotated, so no variant always runs first (or last) in a round.
    for (let i = 0; i < variants.length; i++) {
      const variant = variants[(round + i) % variants.length]!;
      const pool = variant.create();
      await pool.warmup();
      const call = (): Promise<unknown> => pool.run('noop', []);
      const around = variant.around;
      const timing = await timeCalls(around === undefined ? call : () => around(call), COUNTS);
      await pool.close();
      const entry = results.get(variant.name)!;
      entry.p50.push(timing.p50 * 1000);
      entry.perSecond.push(timing.perSecond);
    }
  }
  return results;
}

const baselineVariant: Variant = { name: `baseline (${baselineRef})`, create: () => baseline(task, { size: SIZE }) };

// Phase 1, before anything registers a context manager: nothing in the process uses
// AsyncLocalStorage, as in an application without tracing.
const withoutApi = await measure([baselineVariant, { name: 'api absent', create: () => absent(task, { size: SIZE }) }]);

// Phase 2: an application with OpenTelemetry set up. Its context manager is AsyncLocalStorage,
// which, once a span has been active, costs every promise a little, offload or not: the
// baseline runs under the same conditions.
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new NoopSpanProcessor()] }));
tracer.startActiveSpan('start-up', (span) => span.end());
const withProvider = await measure([
  baselineVariant,
  { name: 'provider, no span', create: () => present(task, { size: SIZE }) },
  {
    name: 'captureContext',
    create: () => present(task, { size: SIZE, captureContext: () => requests.getStore() }),
    around: (call) => requests.run({ requestId: 'r-1' }, call),
  },
  {
    name: 'active span',
    create: () => present(task, { size: SIZE }),
    around: (call) => tracer.startActiveSpan('request', (span) => call().finally(() => span.end())),
  },
]);

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const loadAverage = (): string => loadavg().map((value) => value.toFixed(2)).join(' ');

function print(title: string, results: Results): void {
  const base = results.values().next().value!;
  console.log(`\n${title}`);
  console.log(`${'variant'.padEnd(20)} ${'round trip p50'.padStart(15)} ${'× baseline'.padStart(11)} ${'tasks/s'.padStart(10)} ${'× baseline'.padStart(11)}   tasks/s per round`);
  for (const [name, entry] of results) {
    const p50 = median(entry.p50);
    const perSecond = median(entry.perSecond);
    console.log(
      `${name.padEnd(20)} ${`${p50.toFixed(1)} µs`.padStart(15)} ${`×${(p50 / median(base.p50)).toFixed(2)}`.padStart(11)} ${Math.round(perSecond).toLocaleString('en-US').padStart(10)} ${`×${(perSecond / median(base.perSecond)).toFixed(2)}`.padStart(11)}   ${entry.perSecond.map((value) => Math.round(value / 1000)).join(' ')} k`,
    );
  }
}

console.log(`no-op task, pool of ${SIZE} threads, Node ${process.version}, ${ROUNDS} rounds interleaved (medians), load average ${loadAverage()}`);
print('Without OpenTelemetry', withoutApi);
print('With an SDK tracer provider and AsyncLocalStorage context manager registered', withProvider);
