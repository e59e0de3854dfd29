import { blocking } from './blocking.js';
import { buffer } from './buffer.js';
import { cpuScaling } from './cpu-scaling.js';
import { floors } from './floors.js';
import { latency } from './latency.js';
import { lifecycle } from './lifecycle.js';
import type { Scenario } from './scenario.js';
import { throughput } from './throughput.js';

/** Every scenario, in the order they run within a round. */
export const SCENARIOS = {
  throughput,
  latency,
  floors,
  'cpu-scaling': cpuScaling,
  buffer,
  blocking,
  lifecycle,
} satisfies Record<string, Scenario>;

export type ScenarioName = keyof typeof SCENARIOS;
export const SCENARIO_NAMES = Object.keys(SCENARIOS) as ScenarioName[];

export function isScenarioName(name: string): name is ScenarioName {
  return Object.hasOwn(SCENARIOS, name);
}

/** Scenarios that measure the platform rather than a pool: run once a round, beside `raw`. */
export const RAW_ONLY: ReadonlySet<ScenarioName> = new Set<ScenarioName>(['floors']);

/**
 * Fresh processes per pool and round, where one sample is mostly noise: a cold start measured
 * once a round swung from 44 to 71 ms between rounds on the shared machine, every pool alike.
 */
export const SAMPLES_PER_ROUND: Partial<Record<ScenarioName, number>> = { lifecycle: 5 };
