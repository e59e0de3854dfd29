/** The pool's record of one worker: its handle, its in-flight FIFO and its accounting. */
import type { WorkerHandle } from '../executors/executor.js';
import { Queue } from './queue.js';
import type { Task } from './task.js';
import { now } from '../clock.js';

export class WorkerSlot {
  handle!: WorkerHandle;
  isReady = false;
  /** Closing or ended on purpose: its exit is expected, and it takes no new task. */
  isRetiring = false;
  /** Tasks sent and not yet answered, in the order the worker runs them. */
  readonly inflight = new Queue<Task>();
  /** Tasks ever sent, for `maxTasksPerWorker`. */
  assigned = 0;
  /** Milliseconds spent running tasks, as the worker measured them. */
  busyTime = 0;
  readonly spawnedAt = now();
  idleSince = now();
  /** When the task it runs now started, as far as the pool knows (its answer to the last one came). */
  runningSince = 0;
  /** Reported itself past `maxWorkerMemoryMb`: takes no new task, and is replaced once idle. */
  isOverMemory = false;
  /** Running a generator task: it holds the worker until the stream ends. */
  isStreaming = false;
  /** Pending end of a worker whose cancelled task overstays the grace period. */
  killTimer: NodeJS.Timeout | undefined;

  /** The task last handed ahead to this busy worker, or with its spawn (see scheduling/hand-ahead.ts). */
  ahead: Task | undefined;
  /** A worker process still starting was asked to give back `ahead`; its answer is on the way. */
  askedBack: Task | undefined;
  /** Ready for a task now: started, not leaving, and holding none. */
  get isIdle(): boolean {
    return this.isReady && !this.isRetiring && this.inflight.length === 0;
  }

  /** The in-flight task `id`: the head when tasks run one at a time, anywhere when they overlap. */
  find(id: number): Task | undefined {
    const inflight = this.inflight;
    for (let i = 0; i < inflight.length; i++) {
      const task = inflight.at(i)!;
      if (task.id === id) return task;
    }
    return undefined;
  }

  constructor(
    readonly id: number,
    readonly cancelFlag: Int32Array | undefined,
    /** Set where workers share memory: tasks may be handed ahead, and taken back. */
    readonly claimCell: Int32Array | undefined,
    /** A worker process: a task handed with its spawn comes back when asked, unless started. */
    readonly givesBack = false,
  ) {}
}
