/**
 * The side-by-side benchmark (issue 7): offload, its peers and a raw worker_threads baseline,
 * same tasks, same machine, one run. `npm run bench` (full, recorded in bench/RESULTS.md) or
 * `npm run bench -- --quick` (about a minute, printed only).
 *
 * Options: --quick, --rounds N, --measure-ms N, --scenarios a,b, --pools a,b, --record / --no-record,
 * --cpu N (Linux: every child pinned to core N with `taskset`).
 *
 * `--cpu` is for the request path (`--scenarios latency,floors`): on a virtual machine a round
 * trip is mostly the cost of waking a thread on the other core, which the scheduler's placement
 * changes from run to run (the same pool measured 10 µs and 90 µs p50 an hour apart); with every
 * thread on one core, what remains is the pools' own work and the platform's message passing.
 *
 * Each pool × scenario runs in a fresh child process, so no pool inherits another's heap, JIT
 * state or threads. Rounds interleave the pools (and rotate their order) so slow drift on a
 * shared machine lands on every pool alike instead of on whichever ran last.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isPoolName, POOL_NAMES, type PoolName } from './adapters/adapter.js';
import { currentLoad, describeEnvironment } from './environment.js';
import { renderReport, type Results, type RunSettings } from './report.js';
import { isScenarioName, RAW_ONLY, SAMPLES_PER_ROUND, SCENARIO_NAMES, type ScenarioName } from './scenarios/index.js';
import type { Metrics } from './scenarios/scenario.js';

const FULL = { rounds: 3, measureMs: 3_000 };
/** One round: a smoke test of every pool and scenario while developing, not a result. */
const QUICK = { rounds: 1, measureMs: 200 };
/** No child should come near this; one that hangs must not hang the run. */
const CHILD_TIMEOUT_MS = 180_000;

const CHILD = fileURLToPath(new URL('./child.js', import.meta.url));
const RESULTS_FILE = fileURLToPath(new URL('../RESULTS.md', import.meta.url)); // bench/RESULTS.md

const { values: options } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    'measure-ms': { type: 'string' },
    scenarios: { type: 'string' },
    pools: { type: 'string' },
    record: { type: 'boolean' },
    'no-record': { type: 'boolean' },
    cpu: { type: 'string' },
  },
});

const defaults = options.quick ? QUICK : FULL;
const settings: RunSettings = {
  mode: options.quick ? 'quick' : 'full',
  rounds: positiveInteger('rounds', options.rounds ?? String(defaults.rounds)),
  measureMs: positiveInteger('measure-ms', options['measure-ms'] ?? String(defaults.measureMs)),
  pools: listOption('pools', options.pools, POOL_NAMES, isPoolName),
  cpu: options.cpu === undefined ? undefined : cpuOption(options.cpu),
};
const scenarios = listOption('scenarios', options.scenarios, SCENARIO_NAMES, isScenarioName);
const shouldRecord = options['no-record'] ? false : (options.record ?? settings.mode === 'full');

const environment = describeEnvironment();
console.error(
  `offload bench: ${settings.mode}, ${settings.rounds} rounds, ${scenarios.length} scenarios × ${settings.pools.length} pools, ` +
    `Node ${environment.node}, ${environment.cores} cores, load ${environment.loadAverage}`,
);

const results: Results = new Map(scenarios.map((scenario) => [scenario, new Map(settings.pools.map((pool) => [pool, []]))]));
for (let round = 0; round < settings.rounds; round++) {
  const order = rotate(settings.pools, round);
  for (const scenario of scenarios) {
    // Several samples interleave pool by pool, so that a slow spell of the machine hits them all.
    for (let sample = 0; sample < (SAMPLES_PER_ROUND[scenario] ?? 1); sample++) {
      for (const pool of order) {
        if (RAW_ONLY.has(scenario) && pool !== 'raw') continue;
        const began = performance.now();
        const metrics = runChild(pool, scenario);
        results.get(scenario)!.get(pool)!.push(metrics);
        const seconds = ((performance.now() - began) / 1_000).toFixed(1);
        console.error(`  round ${round + 1}/${settings.rounds}  ${scenario.padEnd(11)} ${pool.padEnd(10)} ${seconds.padStart(4)} s  ${summary(metrics)}`);
      }
    }
  }
}

const report = renderReport(results, settings, environment, currentLoad());
console.log(`\n${report}`);
if (shouldRecord) {
  if (!existsSync(RESULTS_FILE)) writeFileSync(RESULTS_FILE, '# Benchmark results\n\nAppended by `npm run bench`.\n\n');
  appendFileSync(RESULTS_FILE, `\n${report}`);
  console.error(`Recorded in ${RESULTS_FILE}`);
}

function runChild(pool: PoolName, scenario: ScenarioName): Metrics | undefined {
  const command = [process.execPath, CHILD, pool, scenario, String(settings.measureMs)];
  if (settings.cpu !== undefined) command.unshift('taskset', '-c', String(settings.cpu));
  const child = spawnSync(command[0]!, command.slice(1), {
    encoding: 'utf8',
    timeout: CHILD_TIMEOUT_MS,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lastLine = child.stdout?.trim().split('\n').at(-1) ?? '';
  if (child.status === 0 && lastLine.startsWith('{')) return JSON.parse(lastLine) as Metrics;
  const why = child.error?.message ?? (child.signal ? `signal ${child.signal}` : `exit code ${child.status}`);
  console.error(`  ${pool} / ${scenario} failed (${why}):\n${child.stderr?.trim() ?? ''}`);
  return undefined;
}

function summary(metrics: Metrics | undefined): string {
  if (metrics === undefined) return 'FAILED';
  return Object.entries(metrics)
    .map(([name, value]) => `${name} ${Number.isInteger(value) ? value : value.toFixed(2)}`)
    .join('  ');
}

function rotate<T>(items: readonly T[], by: number): T[] {
  const shift = by % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

/** `--cpu N`: a core this machine has, and `taskset` to pin to it. */
function cpuOption(text: string): number {
  const cpu = Number(text);
  if (!Number.isInteger(cpu) || cpu < 0 || cpu >= availableParallelism()) {
    throw new RangeError(`--cpu must be a core number below ${availableParallelism()} (got ${text})`);
  }
  const probe = spawnSync('taskset', ['-c', String(cpu), process.execPath, '-e', '0']);
  if (probe.status !== 0) throw new Error(`--cpu needs taskset (util-linux) and a Linux kernel: ${probe.error?.message ?? probe.stderr}`);
  return cpu;
}

function positiveInteger(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`--${name} must be a positive integer (got ${text})`);
  return value;
}

function listOption<T extends string>(
  name: string,
  text: string | undefined,
  all: readonly T[],
  isValid: (item: string) => item is T,
): T[] {
  if (text === undefined) return [...all];
  const items = text.split(',').map((item) => item.trim());
  const unknown = items.filter((item) => !isValid(item));
  if (unknown.length > 0) throw new RangeError(`--${name}: unknown ${unknown.join(', ')} (known: ${all.join(', ')})`);
  // Keep the canonical order, so the table's columns never move.
  return all.filter((item) => items.includes(item));
}
