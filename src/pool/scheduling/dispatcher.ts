/**
 * The hand-out of queued tasks to ready workers. A call becomes a `Task` in the pool's queue; at
 * the end of the tick every ready worker with room receives a share of the queue in one message.
 * A worker runs its tasks one at a time, in order, so each worker's in-flight tasks form a FIFO
 * and results are matched to tasks without any lookup.
 */
import type { TransferListItem } from 'node:worker_threads';
import { NotCloneableError, OffloadError } from '../../errors.js';
import { findUncloneablePath } from '../../protocol/clone-path.js';
import { offer, retract } from '../../protocol/claim-cell.js';
import { ToWorker } from '../../protocol/messages.js';
import type { Task } from '../task.js';
import type { TaskQueue } from '../task-queue.js';
import type { WorkerSlot } from '../worker-slot.js';
import { canTakeAhead, waitingAhead, withdraw } from './hand-ahead.js';
import type { PipelineDepth } from './pipeline-depth.js';
import { shareOut } from './worker-choice.js';

const NO_TRANSFER: readonly TransferListItem[] = [];

/** What the dispatcher needs from the pool, which keeps admission, faults and lifecycle. */
export interface DispatchHost {
  readonly queue: TaskQueue;
  readonly workers: readonly WorkerSlot[];
  readonly depth: PipelineDepth;
  readonly maxSize: number;
  readonly maxTasksPerWorker: number;
  /**
   * Records tasks as handed to `slot` (they were posted). A task handed `ahead` has not started:
   * it counts as started once the task before it on that worker has ended.
   */
  accept(slot: WorkerSlot, tasks: Task[], ahead?: boolean): void;
  /** Fails a task that could not be sent. */
  fail(task: Task, error: unknown): void;
  /** Starts workers for what is still queued. */
  grow(): void;
}

export class Dispatcher {
  #isScheduled = false;
  readonly #dispatchQueued = (): void => this.dispatch();

  constructor(private readonly host: DispatchHost) {}

  /** Dispatch waits for the end of the current tick, so a burst of calls shares messages. */
  schedule(): void {
    if (!this.#isScheduled) {
      this.#isScheduled = true;
      queueMicrotask(this.#dispatchQueued);
    }
  }

  dispatch(): void {
    this.#isScheduled = false;
    const { queue, workers, depth: pipeline } = this.host;
    if (queue.length === 0) return;
    const depth = pipeline.value;
    let idle = 0;
    let starting = 0;
    for (const slot of workers) {
      if (!slot.isReady) starting++;
      else if (!slot.isRetiring && slot.inflight.length === 0) idle++;
    }
    const spare = this.host.maxSize - workers.length;
    if (depth === 1 || queue.length <= idle + starting + spare) {
      // Slow tasks, or no backlog beyond what free workers can take: one task each, so a slow
      // task never waits behind another while a worker could run it.
      if (depth === 1) this.#reclaim();
      this.#assign(1, true);
      // A backlog beyond the workers starting or yet to start: busy threads get their next
      // task ahead, still revocable (see hand-ahead.ts).
      if (depth === 1) this.#handAhead(starting + spare);
    } else {
      // A backlog of tiny tasks: fill idle workers first, then top up every pipeline to `depth`.
      this.#assign(depth, true);
      if (queue.length > 0) this.#assign(depth, false);
    }
    if (queue.length > 0) this.host.grow();
  }

  #assign(depth: number, idleOnly: boolean): void {
    const queue = this.host.queue;
    shareOut(this.host.workers, depth, idleOnly, this.host.maxTasksPerWorker, () => queue.length, this.#send);
  }

  /** Hands one queued task ahead to each busy thread that can take one, keeping `reserve` queued. */
  #handAhead(reserve: number): void {
    const { queue, workers, maxTasksPerWorker } = this.host;
    for (const slot of workers) {
      if (queue.length <= reserve) return;
      if (!canTakeAhead(slot, maxTasksPerWorker)) continue;
      // A stream holds a worker until it ends: it waits for a free one, and so does what follows it.
      if (queue.peek()!.stream !== undefined) return;
      const task = queue.shift()!;
      offer(slot.claimCell!, task.id); // before the message: the thread must find its claim
      if (this.#postAlone(slot, task, true)) slot.ahead = task;
      else retract(slot.claimCell!);
    }
  }

  /** Queued calls of higher priority than tasks handed ahead take their places. */
  #reclaim(): void {
    const { queue, workers } = this.host;
    let taken = 0;
    for (const slot of workers) {
      const ahead = waitingAhead(slot);
      if (ahead === undefined || queue.countAbove(ahead.priority) <= taken) continue;
      if (withdraw(slot, ahead)) {
        queue.requeue([ahead]);
        taken++;
      }
    }
  }

  readonly #send = (slot: WorkerSlot, count: number): void => {
    const queue = this.host.queue;
    const message: unknown[] = [ToWorker.Run];
    const tasks: Task[] = [];
    let transfer: TransferListItem[] | undefined;
    for (let i = 0; i < count; i++) {
      const next = queue.peek();
      if (next === undefined) break;
      if (next.stream !== undefined) {
        // A stream holds its worker until it ends, so it travels alone.
        if (tasks.length === 0) this.#sendStream(slot, queue.shift()!);
        break;
      }
      const task = queue.shift()!;
      tasks.push(task);
      message.push(task.id, task.trace?.address ?? task.name, task.args);
      if (task.transfer !== undefined) (transfer ??= []).push(...task.transfer);
    }
    if (tasks.length === 0) return;
    try {
      slot.handle.post(message as [typeof ToWorker.Run], transfer ?? NO_TRANSFER);
    } catch {
      this.#sendEachAlone(slot, tasks);
      // Refused tasks left room on this worker that the current pass will not revisit.
      if (queue.length > 0) this.schedule();
      return;
    }
    this.host.accept(slot, tasks);
  };

  #sendStream(slot: WorkerSlot, task: Task): void {
    try {
      slot.handle.post([ToWorker.Stream, task.id, task.trace?.address ?? task.name, task.args, task.stream!.highWaterMark], task.transfer ?? NO_TRANSFER);
    } catch (error) {
      this.host.fail(task, notCloneable(error, task));
      return;
    }
    slot.isStreaming = true;
    this.host.accept(slot, [task]);
  }

  /** A batch could not be serialised: send each task alone and fail only the culprits. */
  #sendEachAlone(slot: WorkerSlot, tasks: Task[]): void {
    for (const task of tasks) this.#postAlone(slot, task);
  }

  /** Sends one task in a message of its own; a task that cannot be sent fails alone. */
  #postAlone(slot: WorkerSlot, task: Task, ahead = false): boolean {
    try {
      slot.handle.post([ToWorker.Run, task.id, task.trace?.address ?? task.name, task.args], task.transfer ?? NO_TRANSFER);
    } catch (error) {
      this.host.fail(task, notCloneable(error, task));
      return false;
    }
    this.host.accept(slot, [task], ahead);
    return true;
  }
}

/**
 * The error for a task whose arguments could not be sent. An executor may refuse a value with an
 * error of its own: a child process names shared memory, which structured clone within a process
 * accepts; the remote executor refuses arguments too large for Redis.
 */
function notCloneable(error: unknown, task: Task): OffloadError {
  if (error instanceof OffloadError) return error;
  const path = findUncloneablePath(task.args, 'args') ?? (task.trace && findUncloneablePath(task.trace.address[1].request, 'context'));
  return new NotCloneableError(path ?? 'args', error);
}
