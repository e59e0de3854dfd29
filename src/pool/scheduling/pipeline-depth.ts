/**
 * How many tasks a worker may hold ahead ("depth"), from the observed run time: one at a time for
 * slow tasks, so a long task never holds others hostage while a worker idles; a deep pipeline for
 * tiny tasks, so messages stay few.
 */

/** Longest a worker's pipeline may represent, in milliseconds of observed run time. */
const PIPELINE_MS = 1;
/** Deepest pipeline when the executor sets no limit of its own. */
export const MAX_DEPTH = 64;

export class PipelineDepth {
  #runTimeMs = Number.NaN;
  #depth = 1;

  /**
   * What the executor allows a worker to hold (a remote slot holds one job): set once the
   * executor has loaded, before any worker starts (so before any run time is observed).
   */
  maxDepth = MAX_DEPTH;

  /** Tasks a worker may hold now. */
  get value(): number {
    return this.#depth;
  }

  /** Moving average of a task's run time in ms; `NaN` until a task has finished. */
  get runTimeMs(): number {
    return this.#runTimeMs;
  }

  observe(ms: number): void {
    this.#runTimeMs = Number.isNaN(this.#runTimeMs) ? ms : this.#runTimeMs * 0.8 + ms * 0.2;
    this.#depth = Math.max(1, Math.min(this.maxDepth, Math.floor(PIPELINE_MS / this.#runTimeMs)));
  }
}
