/** What `pool.stats()` reports, and the counters behind it. */
import { Histogram, type Percentiles } from './histogram.js';
import type { WorkerSlot } from './worker-slot.js';
import { now as clock } from '../clock.js';

export interface WorkerStats {
  id: number;
  /** Tasks sent to this worker. */
  tasks: number;
  /** Tasks it holds now: running, or sent ahead (up to `concurrentTasksPerWorker` run at once). */
  inflight: number;
  /** Milliseconds spent running tasks. */
  busyTime: number;
  /** Share of its lifetime spent running tasks, 0 to 1. */
  utilization: number;
}

export interface PoolStats {
  /** Workers alive (started on demand, between `minSize` and `maxSize`). */
  size: number;
  /** Workers running a task. */
  busy: number;
  /** Workers ready for a task: started, without one, and not leaving (recycled, past `idleTimeout`, or closing). */
  idle: number;
  /** Tasks waiting for a worker. */
  queued: number;
  /** Admitted tasks that returned a value. */
  completed: number;
  /** Admitted tasks that ended in an error (their own, or the pool's: timeout, abort, exit...). */
  failed: number;
  /** Failures by code: `task` for the task's own errors, else the `ERR_OFFLOAD_*` code. */
  failures: Record<string, number>;
  /** Calls refused at admission with `ERR_OFFLOAD_QUEUE_FULL`. */
  shed: number;
  /** Workers replaced on purpose, by cause: `maxTasksPerWorker` reached, `maxWorkerMemoryMb` exceeded. */
  replaced: { tasks: number; memory: number };
  /** Workers that exited unexpectedly (crashes, `process.exit`, out of memory). */
  crashes: number;
  /** Time from admission to dispatch to a worker, in ms. */
  waitTime: Percentiles;
  /** Time running in a worker, in ms. */
  runTime: Percentiles;
  workers: WorkerStats[];
}

export class StatsRecorder {
  completed = 0;
  failed = 0;
  shed = 0;
  crashes = 0;
  readonly replaced = { tasks: 0, memory: 0 };
  readonly failures = new Map<string, number>();
  readonly waitTime = new Histogram();
  readonly runTime = new Histogram();

  fail(code: string): void {
    this.failed++;
    this.failures.set(code, (this.failures.get(code) ?? 0) + 1);
  }

  snapshot(workers: readonly WorkerSlot[], busy: number, queued: number): PoolStats {
    const now = clock();
    let idle = 0;
    // A worker being recycled stays in `size` until it has left, but takes no task.
    for (const slot of workers) if (slot.isIdle) idle++;
    return {
      size: workers.length,
      busy,
      idle,
      queued,
      completed: this.completed,
      failed: this.failed,
      failures: Object.fromEntries(this.failures),
      shed: this.shed,
      replaced: { ...this.replaced },
      crashes: this.crashes,
      waitTime: this.waitTime.summary(),
      runTime: this.runTime.summary(),
      workers: workers.map((slot) => ({
        id: slot.id,
        tasks: slot.assigned,
        inflight: slot.inflight.length,
        busyTime: slot.busyTime,
        utilization: Math.min(1, slot.busyTime / Math.max(1, now - slot.spawnedAt)),
      })),
    };
  }
}
