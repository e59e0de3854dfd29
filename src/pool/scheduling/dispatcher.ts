/**
 * The hand-out of queued tasks to ready workers. A call becomes a `Task` in the pool's queue; at
 * the end of the tick every ready worker with room receives a share of the queue in one message.
 * Three paths: by default a worker runs its tasks one at a time, in order (its in-flight tasks
 * form a FIFO, answered in order), and a busy thread may get its next slow task ahead
 * (hand-ahead.ts); with `concurrentTasksPerWorker` > 1 each worker takes up to that many at once,
 * answered as they settle; once a call names a `key`, every pass goes task by task so keyed calls
 * reach their key's worker (key-affinity.ts).
 */
import type { TransferListItem } from 'node:worker_threads';
import { NotCloneableError, OffloadError } from '../../errors.js';
import { findUncloneablePath } from '../../protocol/clone-path.js';
import { offer, retract } from '../../protocol/claim-cell.js';
import { ToWorker } from '../../protocol/messages.js';
import { calledBefore, TaskState, type Task } from '../task.js';
import type { TaskQueue } from '../task-queue.js';
import type { WorkerSlot } from '../worker-slot.js';
import { askBack, canTakeAhead, canTakeAtSpawn, waitingAhead, withdraw } from './hand-ahead.js';
import { KeyAffinity } from './key-affinity.js';
import type { PipelineDepth } from './pipeline-depth.js';
import { canTake, shareOut } from './worker-choice.js';
import { now as clock } from '../../clock.js';

const NO_TRANSFER: readonly TransferListItem[] = [];
const SETTLED = Promise.resolve();
/** A task running this many times as long as tasks usually do (their moving average) is a straggler (see `#handAhead`)... */
const STRAGGLER_RUNS = 4;
/** ...and at least this long (ms), so the jitter of short tasks moves nothing. */
const STRAGGLER_MIN_MS = 20;

/** What the dispatcher needs from the pool, which keeps admission, faults and lifecycle. */
export interface DispatchHost {
  readonly queue: TaskQueue;
  readonly workers: readonly WorkerSlot[];
  readonly depth: PipelineDepth;
  readonly maxSize: number;
  readonly maxTasksPerWorker: number;
  /** `concurrentTasksPerWorker`: tasks a worker may hold running at once. */
  readonly concurrency: number;
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
  #isDispatching = false;
  readonly #dispatchQueued = (): void => this.dispatch();
  /** Created by the first keyed call: a pool that never uses keys keeps the batched path. */
  #affinity: KeyAffinity | undefined;

  constructor(private readonly host: DispatchHost) {}

  /**
   * A call was queued. With nothing else waiting and a worker idle, it is handed out now: a lone
   * call (a sequential caller's, or the first of a burst) costs no wait for the end of the tick.
   * Otherwise dispatch waits for the end of the tick, so a burst of calls shares messages. Never
   * from inside a dispatch (a `taskStarted` listener making a call): that one is scheduled.
   */
  queued(task: Task): void {
    if (!this.#isDispatching && this.host.queue.length === 1 && this.#canStartAtOnce(task)) this.dispatch();
    else this.schedule();
  }

  /**
   * Whether the lone queued call would go to an idle worker now. A keyed call would only if its
   * key is free and the key's owner idle: then waiting for the end of the tick only delays it
   * (a keyed call paid that wait on every call), and a burst still shares messages, since only
   * the call that finds its worker idle goes alone.
   */
  #canStartAtOnce(task: Task): boolean {
    const affinity = this.#affinity;
    if (affinity === undefined || task.key === undefined) return this.#hasIdleWorker();
    if (affinity.isBusy(task.key)) return false;
    const owner = affinity.owner(task.key, this.host.workers);
    return owner !== undefined && canTake(owner, 1, true, this.host.maxTasksPerWorker);
  }

  #hasIdleWorker(): boolean {
    for (const slot of this.host.workers) if (canTake(slot, 1, true, this.host.maxTasksPerWorker)) return true;
    return false;
  }

  /** Dispatch waits for the end of the current tick, so a burst of calls shares messages. */
  schedule(): void {
    if (!this.#isScheduled) {
      this.#isScheduled = true;
      // A reaction on a settled promise, not `queueMicrotask`: Node wraps each of those in an
      // async resource, which costs a call's round trip more than the rest of its dispatch.
      void SETTLED.then(this.#dispatchQueued);
    }
  }

  /** A keyed call was queued: from now on every dispatch honours keys. */
  keyed(): void {
    this.#affinity ??= new KeyAffinity();
  }

  /** A keyed task left its worker (answered, or the worker exited): its key is free again. */
  release(task: Task): void {
    if (task.key !== undefined) this.#affinity?.release(task.key);
  }

  dispatch(): void {
    this.#isScheduled = false;
    if (this.#isDispatching) {
      // Reached again from inside a pass (a listener it called made a call): the pass running
      // now must finish its own bookkeeping first.
      this.schedule();
      return;
    }
    this.#isDispatching = true;
    try {
      this.#dispatch();
    } finally {
      this.#isDispatching = false;
    }
  }

  #dispatch(): void {
    const { queue, workers, depth: pipeline } = this.host;
    if (queue.length === 0) return;
    if (this.#affinity !== undefined) {
      this.#dispatchKeyed(this.#affinity);
      if (queue.length > 0) this.host.grow();
      return;
    }
    const depth = pipeline.value;
    if (this.host.concurrency > 1) {
      // A worker runs up to `concurrency` tasks at once (holds more ahead for tiny tasks): fill
      // idle workers first, then every worker up to its room.
      const room = Math.max(depth, this.host.concurrency);
      this.#assign(room, true);
      if (queue.length > 0) this.#assign(room, false);
      if (queue.length > 0) this.host.grow();
      return;
    }
    let idle = 0;
    let starting = 0;
    for (const slot of workers) {
      if (!slot.isReady) starting++;
      else if (slot.isIdle) idle++;
    }
    const spare = this.host.maxSize - workers.length;
    if (depth === 1 || queue.length <= idle + starting + spare) {
      // Slow tasks, or no backlog beyond what free workers can take: one task each, so a slow
      // task never waits behind another while a worker could run it.
      if (depth === 1) this.#reclaim();
      // Every worker busy (the seed's steady state: a thread's answer finds its next task
      // already handed ahead): nothing to share out.
      if (idle > 0) this.#assign(1, true);
      // A backlog beyond the workers starting or yet to start: busy threads get their next
      // task ahead, still revocable (see hand-ahead.ts).
      if (depth === 1) this.#handAhead(starting + spare);
    } else {
      // A backlog of tiny tasks: fill idle workers first, then top up every pipeline to `depth`.
      this.#assign(depth, true);
      if (queue.length > 0) this.#assign(depth, false);
    }
    if (queue.length > 0 && workers.length < this.host.maxSize) this.host.grow();
  }

  /**
   * Task by task, in queue order: a keyed task goes to its key's worker once the key is free and
   * that worker has room, or is set aside in its key's lane meanwhile, so a busy key never holds
   * up the calls behind it; other tasks go to the least loaded worker with room. What one pass
   * gives a worker travels in one message, as on the unkeyed path.
   */
  #dispatchKeyed(affinity: KeyAffinity): void {
    const { queue, workers } = this.host;
    const depth = Math.max(this.host.depth.value, this.host.concurrency);
    if (affinity.liveChanged(workers)) queue.rehome((key) => affinity.owner(key, workers));
    // Only keys whose owner has room now, so a dispatch costs what it hands out plus the keys
    // skipped as busy (at most the calls in flight), not the number of keys waiting.
    for (const slot of workers) {
      if (!this.#hasRoom(slot, depth)) continue;
      for (const key of queue.parkedKeysOf(slot)) {
        if (affinity.isBusy(key)) continue;
        const task = queue.unpark(key);
        if (task !== undefined) this.#give(slot, task, affinity);
        if (!this.#hasRoom(slot, depth)) break;
      }
    }
    for (let task = queue.peek(); task !== undefined; task = queue.peek()) {
      const key = task.key;
      if (key === undefined) {
        let least: WorkerSlot | undefined;
        for (const slot of workers) {
          if (this.#hasRoom(slot, depth) && (least === undefined || slot.inflight.length + this.#batched(slot) < least.inflight.length + this.#batched(least))) least = slot;
        }
        if (least === undefined) break; // no worker has room for anything
        this.#give(least, queue.shift()!, affinity);
        continue;
      }
      queue.shift();
      // A key with calls set aside keeps their order (and its lane's owner): this call joins them.
      const isWaiting = queue.peekParked(key) !== undefined;
      const owner = isWaiting ? undefined : affinity.owner(key, workers);
      if (!isWaiting && !affinity.isBusy(key) && owner !== undefined && this.#hasRoom(owner, depth)) this.#give(owner, task, affinity);
      else queue.park(task as Task & { key: string }, owner);
    }
    const batches = this.#batches;
    try {
      for (const [slot, tasks] of batches) this.#post(slot, tasks);
    } finally {
      batches.clear();
    }
  }

  /**
   * What the keyed pass running now gives each worker, sent together at its end. One map for
   * every pass, and methods rather than closures: a keyed call pays for no allocation of them.
   */
  readonly #batches = new Map<WorkerSlot, Task[]>();

  #batched(slot: WorkerSlot): number {
    return this.#batches.get(slot)?.length ?? 0;
  }

  #hasRoom(slot: WorkerSlot, depth: number): boolean {
    const batched = this.#batched(slot);
    return canTake(slot, depth - batched, false, this.host.maxTasksPerWorker - batched);
  }

  #give(slot: WorkerSlot, task: Task, affinity: KeyAffinity): void {
    if (task.key !== undefined) affinity.hold(task.key); // now, so this pass sends no second call of it
    if (task.stream !== undefined) {
      this.#post(slot, [task]); // a stream travels alone
      return;
    }
    const batch = this.#batches.get(slot);
    if (batch === undefined) this.#batches.set(slot, [task]);
    else batch.push(task);
  }

  #assign(depth: number, idleOnly: boolean): void {
    shareOut(this.host.workers, depth, idleOnly, this.host.maxTasksPerWorker, this.#queued, this.#send);
  }

  /** Made once, not per dispatch: a sequential caller's every call passes here. */
  readonly #queued = (): number => this.host.queue.length;

  /**
   * Hands one queued task ahead to each busy thread that can take one, keeping `reserve` queued.
   * A thread whose task has run far longer than tasks usually do (a straggler) takes none, and
   * the task waiting ahead of it moves to the next thread that takes one, if it should run before
   * the queue's head: calls of one priority keep their order however long one task runs.
   */
  #handAhead(reserve: number): void {
    const { queue, workers, maxTasksPerWorker } = this.host;
    // A task started before this is a straggler; read once a thread can take a task ahead. NaN,
    // so nothing straggles, until a task has finished and the usual run time is known.
    let stragglerStart: number | undefined;
    for (const slot of workers) {
      if (queue.length <= reserve) return;
      if (!canTakeAhead(slot, maxTasksPerWorker)) continue;
      const head = queue.peek();
      // A stream holds a worker until it ends: it waits for a free one, and so does what follows
      // it. So does a call that moves something: taken back, it would be lost in the thread's port.
      if (head === undefined || head.stream !== undefined || head.transfer !== undefined) return;
      stragglerStart ??= clock() - Math.max(this.host.depth.runTimeMs * STRAGGLER_RUNS, STRAGGLER_MIN_MS);
      if (slot.runningSince < stragglerStart) continue;
      const task = this.#takeFromStraggler(head, stragglerStart) ?? queue.shift()!;
      offer(slot.claimCell!, task.id); // before the message: the thread must find its claim
      if (this.#postAlone(slot, task, true)) slot.ahead = task;
      else retract(slot.claimCell!);
    }
  }

  /**
   * Takes back the task waiting ahead of a straggler (a thread whose task started before
   * `stragglerStart`) that should run first, if it should run before `head`. Not taken back when
   * its thread has just started it: the straggler ended.
   */
  #takeFromStraggler(head: Task, stragglerStart: number): Task | undefined {
    const first = this.#firstWaiting(false, stragglerStart);
    return first !== undefined && runsBefore(first, head) && withdraw(first.slot!, first) ? first : undefined;
  }

  /**
   * The task handed ahead that should run first, among those waiting on ready workers (and on
   * workers still starting, with `fromStarting`), only behind tasks started before
   * `stragglerStart` if given, and not in `skip`. Its `slot` is the worker holding it.
   */
  #firstWaiting(fromStarting: boolean, stragglerStart?: number, skip?: readonly Task[]): Task | undefined {
    let first: Task | undefined;
    for (const slot of this.host.workers) {
      if (!fromStarting && !slot.isReady) continue;
      if (stragglerStart !== undefined && !(slot.runningSince < stragglerStart)) continue;
      const waiting = waitingAhead(slot);
      if (waiting === undefined || waiting.state === TaskState.Settled || skip?.includes(waiting)) continue;
      if (first === undefined || runsBefore(waiting, first)) first = waiting;
    }
    return first;
  }

  /**
   * Hands the head of the queue to `slot`, a worker just spawned, when it is a plain call (not a
   * stream, no key: those need a ready worker's bookkeeping) and tasks run one at a time (a
   * worker that overlaps tasks does not claim them). Revocable until the worker starts it.
   */
  handAtSpawn(slot: WorkerSlot): void {
    const task = this.host.queue.peek();
    if (task === undefined || task.stream !== undefined || task.key !== undefined) return;
    if (this.#affinity !== undefined || this.host.concurrency > 1 || !canTakeAtSpawn(slot)) return;
    // A thread takes back what it skips in silence: what a call moved would be lost in its port.
    // A process gives a call back with its arguments.
    if (task.transfer !== undefined && slot.claimCell !== undefined) return;
    this.host.queue.shift();
    const cell = slot.claimCell;
    if (cell !== undefined) offer(cell, task.id);
    if (this.#postAlone(slot, task, true)) slot.ahead = task;
    else if (cell !== undefined) retract(cell);
  }

  /**
   * Queued calls of higher priority than tasks handed ahead take their places: at once from a
   * thread, once its answer comes from a worker process (which counts as taken meanwhile).
   */
  #reclaim(): void {
    const { queue, workers } = this.host;
    // The head of the queue has the highest priority waiting: nothing outranks a task handed
    // ahead at its priority or above (the usual case, one priority for every call).
    const highest = queue.peek()?.priority;
    if (highest === undefined) return;
    let taken = 0;
    let withdrawn: Task[] | undefined;
    for (const slot of workers) {
      const ahead = waitingAhead(slot);
      if (ahead === undefined || ahead.priority >= highest || queue.countAbove(ahead.priority) <= taken) continue;
      if (slot.askedBack !== undefined || askBack(slot, ahead, ToWorker.Revoke)) {
        taken++;
      } else if (withdraw(slot, ahead)) {
        (withdrawn ??= []).push(ahead);
        taken++;
      }
    }
    // Back in the order they were called (the queue sees to it), not the order their workers are listed in.
    if (withdrawn !== undefined) queue.requeue(withdrawn);
  }

  /**
   * `slot` has just become free (its last task answered, or it is ready with none) while tasks
   * handed ahead wait on other workers — behind a running task, or in a worker still starting.
   * The one that should run first goes back to the queue for it, unless the queue's head should
   * run before it: no call waits on another's task while a worker could run it, and calls of one
   * priority keep their order. The caller's dispatch follows.
   */
  freed(slot: WorkerSlot): void {
    if (this.host.concurrency > 1 || !canTake(slot, 1, true, this.host.maxTasksPerWorker)) return;
    this.#takeBackFirstWaiting(true);
  }

  /**
   * A worker left (recycled, crashed, over its memory limit). With nothing queued the pool would
   * not replace it while a task waits ahead behind another's long task: the one that should run
   * first goes back to the queue, and the dispatch that follows starts a worker for it (or the
   * busy one takes it, if its task ends first).
   */
  vacated(): void {
    const { queue, workers, maxSize } = this.host;
    if (this.host.concurrency > 1 || queue.length > 0 || workers.length >= maxSize) return;
    this.#takeBackFirstWaiting(false);
  }

  /**
   * Takes back the task handed ahead that should run first, if it should run before the queue's
   * head. From a thread at once; a worker process still starting is asked, and its answer
   * (`GivenBack`) requeues the task. `fromStarting`: also from workers still starting.
   */
  #takeBackFirstWaiting(fromStarting: boolean): void {
    const queue = this.host.queue;
    // A task that could not be taken back has just been started by its thread: try the next.
    let started: Task[] | undefined;
    for (let tries = this.host.workers.length; tries > 0; tries--) {
      const first = this.#firstWaiting(fromStarting, undefined, started);
      if (first === undefined) return;
      const head = queue.peek();
      if (head !== undefined && !runsBefore(first, head)) return;
      const holder = first.slot!;
      // A process answers later: meanwhile the free worker takes the queue's head, and the task
      // asked back would only trade places with it.
      if (head !== undefined && holder.givesBack) return;
      if (holder.askedBack !== undefined || askBack(holder, first, ToWorker.Revoke)) return;
      if (withdraw(holder, first)) {
        queue.requeue([first]);
        return;
      }
      (started ??= []).push(first);
    }
  }

  /** Sends up to `count` tasks from the head of the queue to `slot`. */
  readonly #send = (slot: WorkerSlot, count: number): void => {
    if (count < 1) return;
    const queue = this.host.queue;
    const first = queue.shift();
    if (first === undefined) return;
    // A one-element literal: a call sent alone (every call of a sequential caller) does not pay
    // for the spare room an empty array grows on its first push.
    const tasks: Task[] = [first];
    // A stream holds its worker until it ends, so it travels alone.
    for (let i = 1; i < count && first.stream === undefined; i++) {
      const next = queue.peek();
      if (next === undefined || next.stream !== undefined) break;
      tasks.push(queue.shift()!);
    }
    this.#post(slot, tasks);
  };

  /** Posts tasks taken from the queue to `slot`, in one message. */
  #post(slot: WorkerSlot, tasks: Task[]): void {
    const queue = this.host.queue;
    if (tasks[0]!.stream !== undefined) {
      this.#sendStream(slot, tasks[0]!);
      return;
    }
    let message: unknown[];
    let transfer: TransferListItem[] | undefined;
    if (tasks.length === 1) {
      // One task (every call of a sequential caller): the message in one literal, no growth.
      const task = tasks[0]!;
      message = [ToWorker.Run, task.id, task.trace?.address ?? task.name, task.args];
      transfer = task.transfer;
    } else {
      message = [ToWorker.Run];
      for (const task of tasks) {
        message.push(task.id, task.trace?.address ?? task.name, task.args);
        if (task.transfer !== undefined) (transfer ??= []).push(...task.transfer);
      }
    }
    try {
      slot.handle.post(message as [typeof ToWorker.Run], transfer ?? NO_TRANSFER);
    } catch {
      this.#sendEachAlone(slot, tasks);
      // Refused tasks left room on this worker that the current pass will not revisit.
      if (queue.length > 0) this.schedule();
      return;
    }
    this.#accept(slot, tasks);
  }

  #accept(slot: WorkerSlot, tasks: Task[], ahead?: boolean): void {
    if (this.#affinity !== undefined) for (const task of tasks) if (task.key !== undefined) this.#affinity.hold(task.key);
    this.host.accept(slot, tasks, ahead);
  }

  #sendStream(slot: WorkerSlot, task: Task): void {
    try {
      slot.handle.post([ToWorker.Stream, task.id, task.trace?.address ?? task.name, task.args, task.stream!.highWaterMark], task.transfer ?? NO_TRANSFER);
    } catch (error) {
      if (task.key !== undefined) this.#affinity?.release(task.key);
      this.host.fail(task, notCloneable(error, task));
      return;
    }
    slot.isStreaming = true;
    this.#accept(slot, [task]);
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
      if (task.key !== undefined) this.#affinity?.release(task.key);
      this.host.fail(task, notCloneable(error, task));
      return false;
    }
    this.#accept(slot, [task], ahead);
    return true;
  }
}

/** Higher priority first, then the earlier call. */
function runsBefore(a: Task, b: Task): boolean {
  return a.priority > b.priority || (a.priority === b.priority && calledBefore(a, b));
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
