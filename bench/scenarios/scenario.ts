/** What a scenario receives and returns; each runs in a fresh child process, against one pool. */
import type { PoolName, StartPool } from '../adapters/adapter.js';

export interface ScenarioContext {
  pool: PoolName;
  /** Imports the pool's adapter (and library); the start-up scenario times this too. */
  loadPool(): Promise<StartPool>;
  /** The pool's worker entry. */
  workerFile: URL;
  /** How long a steady-state measurement runs, in milliseconds (short in `--quick`). */
  measureMs: number;
}

/** Named measurements of one run, in the units the report declares for them. */
export type Metrics = Record<string, number>;

export type Scenario = (context: ScenarioContext) => Promise<Metrics>;

export const now = (): number => performance.now();
