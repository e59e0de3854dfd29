/** The rows of the results table: which metric, how to read it, and issue 7's target for it. */
import type { ScenarioName } from './scenarios/index.js';
import { IDEAL_MS } from './scenarios/blocking.js';

/** The medians a target compares: offload's, the best peer's, and the raw baseline's. */
export interface Compared {
  offload: number;
  bestPeer: number;
  raw: number;
  /** The raw column's median of another measurement of the run (a platform floor). */
  rawMedian(metric: string): number;
}

export interface Measure {
  scenario: ScenarioName;
  metric: string;
  label: string;
  unit: string;
  better: 'higher' | 'lower';
  digits: number;
  target?: { text: string; isMet(values: Compared): boolean };
}

const noWorseThanBestPeer = (better: Measure['better']): Measure['target'] => ({
  text: better === 'higher' ? '≥ best peer' : '≤ best peer',
  isMet: ({ offload, bestPeer }) => (better === 'higher' ? offload >= bestPeer : offload <= bestPeer),
});

/** Issue 14: the round trip within 10% of the platform's async floor, p99 and start-up within 10% of raw. */
const FLOOR_ALLOWANCE = 1.1;
const RAW_ALLOWANCE = 1.1;
/** Issue 14: the seed's case within 1% of raw worker_threads. */
const SEED_ALLOWANCE = 1.01;

/** A platform floor's round trip, shown in the raw column (the scenario runs beside raw only). */
function floorRows(metric: string, wake: string): Measure[] {
  return (['P50', 'P99'] as const).map((at) => ({
    scenario: 'floors', metric: `${metric}${at}Us`, label: `Floor: round trip ${at.toLowerCase()}, woken by ${wake}`,
    unit: 'µs', better: 'lower', digits: 1,
  }));
}

export const MEASURES: readonly Measure[] = [
  {
    scenario: 'throughput', metric: 'tasksPerSecond', label: 'Tiny tasks, 1,000 in flight',
    unit: 'tasks/s', better: 'higher', digits: 0,
    target: {
      text: '≥ 4× best peer and ≥ raw',
      isMet: ({ offload, bestPeer, raw }) => offload >= 4 * bestPeer && offload >= raw,
    },
  },
  {
    scenario: 'latency', metric: 'p50Us', label: 'Sequential round trip p50',
    unit: 'µs', better: 'lower', digits: 1,
    target: {
      text: `≤ best peer and ≤ ${FLOOR_ALLOWANCE}× the Atomics.waitAsync floor`,
      isMet: ({ offload, bestPeer, rawMedian }) =>
        offload <= bestPeer && offload <= FLOOR_ALLOWANCE * rawMedian('atomicsWaitAsyncP50Us'),
    },
  },
  {
    scenario: 'latency', metric: 'p99Us', label: 'Sequential round trip p99',
    unit: 'µs', better: 'lower', digits: 1,
    target: { text: `≤ ${RAW_ALLOWANCE}× raw`, isMet: ({ offload, raw }) => offload <= RAW_ALLOWANCE * raw },
  },
  ...floorRows('atomicsWait', 'Atomics.wait/notify'),
  ...floorRows('atomicsWaitAsync', 'Atomics.waitAsync'),
  ...floorRows('messagePort', 'MessagePort message'),
  {
    scenario: 'cpu-scaling', metric: 'oneThreadPerSecond', label: 'CPU-bound, 1 thread',
    unit: 'tasks/s', better: 'higher', digits: 1,
  },
  {
    scenario: 'cpu-scaling', metric: 'twoThreadsPerSecond', label: 'CPU-bound, 2 threads',
    unit: 'tasks/s', better: 'higher', digits: 1,
  },
  {
    scenario: 'cpu-scaling', metric: 'speedup', label: 'CPU scaling 1 → 2 threads',
    unit: '×', better: 'higher', digits: 2,
    target: { text: '≥ 1.9×', isMet: ({ offload }) => offload >= 1.9 },
  },
  {
    scenario: 'buffer', metric: 'copyMs', label: '16 MiB copied in (length back), mean',
    unit: 'ms', better: 'lower', digits: 2,
    target: noWorseThanBestPeer('lower'),
  },
  {
    scenario: 'buffer', metric: 'transferMs', label: '16 MiB moved in and back, mean',
    unit: 'ms', better: 'lower', digits: 3,
    target: noWorseThanBestPeer('lower'),
  },
  {
    scenario: 'blocking', metric: 'wallMs', label: `Seed: 200 × 20 ms on 10 threads (ideal ${IDEAL_MS})`,
    unit: 'ms', better: 'lower', digits: 1,
    target: {
      text: `≤ ${SEED_ALLOWANCE}× raw`,
      isMet: ({ offload, raw }) => offload <= SEED_ALLOWANCE * raw,
    },
  },
  {
    scenario: 'blocking', metric: 'loopDelayP99Ms', label: 'Seed: main event-loop delay p99',
    unit: 'ms', better: 'lower', digits: 2,
    target: noWorseThanBestPeer('lower'),
  },
  {
    scenario: 'lifecycle', metric: 'startupMs', label: 'Start-up to first result (import included)',
    unit: 'ms', better: 'lower', digits: 1,
    target: { text: `≤ ${RAW_ALLOWANCE}× raw`, isMet: ({ offload, raw }) => offload <= RAW_ALLOWANCE * raw },
  },
  {
    scenario: 'lifecycle', metric: 'shutdownMs', label: 'Graceful shutdown',
    unit: 'ms', better: 'lower', digits: 1,
    target: noWorseThanBestPeer('lower'),
  },
  {
    scenario: 'lifecycle', metric: 'idleRssMiB', label: 'RSS, idle pool of 2',
    unit: 'MiB', better: 'lower', digits: 1,
    target: noWorseThanBestPeer('lower'),
  },
  {
    scenario: 'throughput', metric: 'maxRssMiB', label: 'Peak RSS, tiny-task run',
    unit: 'MiB', better: 'lower', digits: 1,
    target: noWorseThanBestPeer('lower'),
  },
];
