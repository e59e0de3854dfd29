/**
 * The pool core: admission, dispatch, results, faults and lifecycle. Written once against the
 * small `Executor` interface, so every executor gets the same behaviour.
 *
 * Dispatch path: a call becomes a `Task` in the pool's queue; at the end of the tick every ready
 * worker with room receives a share of the queue in one message. A worker runs its tasks one at
 * a time, in order, so each worker's in-flight tasks form a FIFO and results are matched to
 * tasks without any lookup. How many tasks a worker may hold ahead (`depth`) follows the observed
 * run time: one at a time for slow tasks, so a long task never holds others hostage while a
 * worker idles; a deep pipeline for tiny tasks, so messages stay few.
 *
 * Invariant: every admitted call settles exactly once (`Task.finish` drops later outcomes).
 */
import { EventEmitter } from 'node:events';
import { pathToFileURL } from 'node:url';
import type { TransferListItem } from 'node:worker_threads';
import { AbortError, ClosedError, NotCloneableError, OffloadError, QueueFullError, TaskModuleError, WorkerExitedError } from '../errors.js';
import type { Executor, WorkerExit } from '../executors/executor.js';
import { createExecutor } from '../executors/index.js';
import { createCancelFlag, flagCancelled } from '../protocol/cancel-flag.js';
import { findUncloneablePath } from '../protocol/clone-path.js';
import { decodeError, type EncodedError } from '../protocol/error-codec.js';
import { FromWorker, Status, ToWorker, type WorkerMessage } from '../protocol/messages.js';
import { takeMarked } from '../transfer.js';
import { callBack, invokeUserCode } from '../styles/callback.js';
import { createHandles, type TaskHandles } from '../styles/handle.js';
import type { CallTaskName, StreamItem, StreamTaskName, TaskArgs, TaskCallback, TaskResult, UntypedTasks } from '../types.js';
import { armDeadline } from './deadline.js';
import { checkRunOptions, resolveOptions, type PoolOptions, type ResolvedOptions } from './options.js';
import { StatsRecorder, type PoolStats } from './stats.js';
import { Failure, Task, TaskState } from './task.js';
import { TaskQueue } from './task-queue.js';
import { TaskStream, type StreamControl, type StreamLimits } from './stream.js';
import { setLongTimeout } from './long-timeout.js';
import { WorkerSlot } from './worker-slot.js';
import { CallTracing, type CarryingOptions } from '../tracing/call-trace.js';

export interface RunOptions {
  /** Buffers to move rather than copy, besides those marked with `transfer()`. */
  transfer?: readonly TransferListItem[];
  /** Aborting it fails the call with `ERR_OFFLOAD_ABORTED` and cancels the task. */
  signal?: AbortSignal;
  /** Deadline in ms from the call, queued or running: then `ERR_OFFLOAD_TIMEOUT`. */
  timeout?: number;
  /** Higher runs first; equal priorities run in call order. Default `0`. */
  priority?: number;
  /** Receives the values the task reports with `progress(value)`, in order (throttled). */
  onProgress?: (value: unknown) => void;
}

export interface StreamOptions {
  signal?: AbortSignal;
  /** Deadline in ms for the whole stream, from the call. */
  timeout?: number;
  priority?: number;
  /** Most items the generator may run ahead of the consumer. Default `1024`. */
  highWaterMark?: number;
  /**
   * A consumer that takes no item for this many ms ends the stream with `ERR_OFFLOAD_STALLED`
   * and frees the worker (the items it had not taken are dropped). Default: the pool's
   * `stallTimeout`, `Infinity` unless set.
   */
  stallTimeout?: number;
  onProgress?: (value: unknown) => void;
}

export interface CloseOptions {
  /** Past this many ms, cancel what remains and end the workers. Default (and `Infinity`): wait for everything. */
  timeout?: number;
}

export interface CloseReport {
  /** Whether the timeout ran out before the pool drained. */
  timedOut: boolean;
  /** Tasks that failed with `ERR_OFFLOAD_CLOSED` because the timeout ran out. */
  cancelled: { queued: number; running: number };
}

export interface PoolEvents {
  workerSpawned: [{ workerId: number }];
  workerExited: [{ workerId: number; exitCode: number | null; signal: string | null; expected: boolean; reason?: string }];
  /** A task was handed to a worker. */
  taskStarted: [{ id: number; name: string; workerId: number; waitTime: number }];
  taskFinished: [{ id: number; name: string; workerId: number; runTime: number }];
  taskFailed: [{ id: number; name: string; code: string; error: unknown }];
}

/** Longest a worker's pipeline may represent, in milliseconds of observed run time. */
const PIPELINE_MS = 1;
const MAX_DEPTH = 64;
const LOAD_RETRY_MS = 1000;
const LOAD_RETRY_MAX_MS = 30_000;
const RESPAWN_MAX_MS = 5000;
const NO_TRANSFER: readonly TransferListItem[] = [];
const DEFAULT_HIGH_WATER_MARK = 1024;
const OBSERVED_EVENTS = new Set<string | symbol>(['taskStarted', 'taskFinished', 'taskFailed']);

/** Internal entry point used by `@blocking`; not part of the public surface. */
export const dispatch = Symbol('offload.dispatch');
/** Internal: the names of generator tasks, once a worker has reported them. */
export const streamTaskNames = Symbol('offload.streamTaskNames');
/** Internal: queues a call of a task whose kind is not known yet. */
export const enqueuePending = Symbol('offload.enqueuePending');

export interface PendingTask {
  /** The call's promise, as a plain call. */
  result(): Promise<unknown>;
  /** Turns the call into a stream, if it has not been handed to a worker yet. */
  streamInstead(): TaskStream<unknown> | undefined;
}

export type { TaskHandles };

export class Pool<M extends object = UntypedTasks> extends EventEmitter<PoolEvents> {
  /** Typed functions, one per task: `await pool.tasks.resize(image, 200)`. */
  readonly tasks: TaskHandles<M>;
  readonly options: Readonly<ResolvedOptions>;
  readonly moduleUrl: string;

  readonly #executor: Executor;
  readonly #queue = new TaskQueue();
  readonly #workers: WorkerSlot[] = [];
  readonly #stats = new StatsRecorder();
  readonly #tracing: CallTracing;
  #nextTaskId = 0;
  #nextWorkerId = 0;
  #busy = 0;
  #runTimeMs = Number.NaN;
  #depth = 1;
  /** What the executor allows a worker to hold (a remote slot holds one job). */
  readonly #maxDepth: number;
  #isDispatchScheduled = false;
  readonly #dispatchQueued = (): void => this.#dispatch();
  #isObserved = false;
  #state: 'open' | 'closing' | 'closed' = 'open';
  #closed: Promise<CloseReport> | undefined;
  #whenEmpty: Array<() => void> = [];
  #whenReady: Array<() => void> = [];
  #loadFailure: { cause: unknown; until: number } | undefined;
  #loadRetryMs = LOAD_RETRY_MS;
  #streamTasks: ReadonlySet<string> | undefined;
  /** Crashes since a task last completed: grows the respawn pause, so a crash loop slows down. */
  #crashStreak = 0;
  #respawnTimer: NodeJS.Timeout | undefined;
  #idleTimer: NodeJS.Timeout | undefined;

  constructor(moduleUrl: URL | string, options: PoolOptions = {}) {
    super();
    this.moduleUrl = toModuleUrl(moduleUrl);
    this.options = Object.freeze(resolveOptions(options));
    this.#executor = createExecutor(this.options);
    this.#maxDepth = this.#executor.maxDepth ?? MAX_DEPTH;
    this.#tracing = new CallTracing(this.options);
    this.tasks = createHandles(this);
    // Task events cost a check per task only while someone listens.
    const untyped = this as EventEmitter;
    untyped.on('newListener', (event: string | symbol) => {
      if (OBSERVED_EVENTS.has(event)) this.#isObserved = true;
    });
    untyped.on('removeListener', () => {
      this.#isObserved = [...OBSERVED_EVENTS].some((event) => untyped.listenerCount(event) > 0);
    });
  }

  /** Runs a task by name: `await pool.run('resize', [image, 200], { timeout: 2000 })`. */
  run<K extends CallTaskName<M>>(name: K, args: TaskArgs<M, K>, options?: RunOptions): Promise<TaskResult<M, K>> {
    return this[dispatch](name, args as unknown[], options) as Promise<TaskResult<M, K>>;
  }

  /**
   * Runs a generator task and iterates what it yields:
   * `for await (const row of pool.stream('rows', [query])) ...`. The task starts at the first
   * pull; `break` ends the generator in the worker (its `finally` blocks run).
   */
  stream<K extends StreamTaskName<M>>(name: K, args: TaskArgs<M, K>, options: StreamOptions = {}): TaskStream<StreamItem<M, K>> {
    checkRunOptions(options);
    return new TaskStream<StreamItem<M, K>>(this.#streamLimits(options), (stream) =>
      this.#startStream(name, args as unknown[], options, stream as TaskStream<unknown>),
    );
  }

  #streamLimits(options: StreamOptions | undefined): StreamLimits {
    return {
      highWaterMark: options?.highWaterMark ?? DEFAULT_HIGH_WATER_MARK,
      stallTimeout: options?.stallTimeout ?? this.options.stallTimeout,
    };
  }

  get [streamTaskNames](): ReadonlySet<string> | undefined {
    return this.#streamTasks;
  }

  /**
   * Runs a task and calls `callback(error, result)` once, on this thread's event loop, never
   * synchronously inside `submit`.
   */
  submit<K extends CallTaskName<M>>(
    name: K,
    args: TaskArgs<M, K>,
    callback: TaskCallback<TaskResult<M, K>>,
    options?: RunOptions,
  ): void {
    if (typeof callback !== 'function') throw new TypeError('submit() needs a callback function');
    let pending: Promise<unknown>;
    try {
      pending = this.#enqueue(name, args as unknown[], options);
    } catch (error) {
      pending = Promise.resolve(new Failure(undefined, error));
    }
    callBack(pending, callback);
  }

  /**
   * Starts workers now (they otherwise start on demand): `minSize` of them, or every one when
   * `minSize` is 0, and resolves once they have loaded the task module. Pay the start-up before
   * traffic arrives. Rejects with `ERR_OFFLOAD_TASK_MODULE` when the module fails to load.
   */
  async warmup(): Promise<void> {
    if (this.#state !== 'open') throw new ClosedError();
    if (this.#loadFailure !== undefined) this.#checkLoadFailure();
    const target = this.options.minSize > 0 ? this.options.minSize : this.options.maxSize;
    while (this.#workers.length < target && this.#loadFailure === undefined) this.#spawn();
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (this.#loadFailure !== undefined) reject(new TaskModuleError(this.moduleUrl, this.#loadFailure.cause));
        else if (this.#workers.every((slot) => slot.isReady || slot.isRetiring)) resolve();
        else this.#whenReady.push(check);
      };
      check();
    });
  }

  /**
   * Stops admission (`ERR_OFFLOAD_CLOSED`), finishes queued and running tasks, runs `teardown`
   * in every worker, ends them. With `timeout`, what remains after it is cancelled and the
   * workers are ended; the report says what was cancelled.
   */
  close(options: CloseOptions = {}): Promise<CloseReport> {
    if (this.#closed !== undefined) return this.#closed;
    if (options === null || typeof options !== 'object') {
      // `close(5000)` must not pass for a timeout and then wait forever.
      throw new TypeError(`close() options must be an object (got ${options === null ? 'null' : typeof options})`);
    }
    const timeout = options.timeout;
    if (timeout !== undefined && !(typeof timeout === 'number' && timeout >= 0)) {
      throw new RangeError(`close({ timeout }) must be a number of milliseconds or Infinity (got ${String(timeout)})`);
    }
    if (this.#state === 'open') this.#state = 'closing';
    const report: CloseReport = { timedOut: false, cancelled: { queued: 0, running: 0 } };
    const clearTimer = setLongTimeout(() => {
      report.timedOut = true;
      report.cancelled = this.#terminateAll('The pool closed before the task finished');
    }, timeout ?? Infinity);
    this.#closed = this.#whenNoWorkers().then(() => {
      clearTimer();
      clearInterval(this.#idleTimer);
      clearTimeout(this.#respawnTimer);
      this.#state = 'closed';
      return report;
    });
    this.#closeIdleWorkers();
    return this.#closed;
  }

  /** Ends every worker now; queued and running tasks fail with `ERR_OFFLOAD_CLOSED`. */
  async destroy(): Promise<void> {
    this.#state = 'closed';
    clearInterval(this.#idleTimer);
    clearTimeout(this.#respawnTimer);
    this.#terminateAll('The pool was destroyed');
    await this.#whenNoWorkers();
  }

  stats(): PoolStats {
    return this.#stats.snapshot(this.#workers, this.#busy, this.#queue.length);
  }

  /** The one call path under `run`, `tasks.x` and `@blocking` (which names `Class#method`). */
  [dispatch](name: string, args: unknown[], options?: RunOptions): Promise<unknown> {
    let outcome: Promise<unknown>;
    try {
      outcome = this.#enqueue(name, args, options);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#settled(outcome);
  }

  /** A call's promise: the value, or the error rebuilt with the caller's frames. */
  async #settled(outcome: Promise<unknown>): Promise<unknown> {
    const settled = await outcome;
    if (settled instanceof Failure) throw settled.toError(callerFrames());
    return settled;
  }

  // --- admission -------------------------------------------------------------------------

  /** Queues a task; resolves with its value or a `Failure`. Throws when admission refuses. */
  #enqueue(name: string, args: unknown[], options: RunOptions | undefined): Promise<unknown> {
    this.#admit(name, args, options);
    const transfer = takeMarked(args, options?.transfer ? [...options.transfer] : undefined);
    const [outcome, settle] = deferred();
    // Outside the promise: what `captureContext` throws must reach the caller as a refusal, not as a rejection nobody handles.
    const task = this.#createTask(name, args, transfer, options, settle);
    this.#queue.push(task);
    this.#scheduleDispatch();
    return outcome;
  }

  /** Queues a generator task feeding `stream`; ends the stream at once when refused. */
  #startStream(name: string, args: unknown[], options: StreamOptions, stream: TaskStream<unknown>): StreamControl | undefined {
    let task: Task;
    try {
      this.#admit(name, args, options);
      task = this.#createTask(name, args, takeMarked(args), options, (outcome) => stream.end(outcome));
    } catch (error) {
      stream.end(new Failure(undefined, error));
      return undefined;
    }
    task.stream = stream;
    this.#queue.push(task);
    this.#scheduleDispatch();
    return this.#streamControl(task);
  }

  #streamControl(task: Task): StreamControl {
    return {
      pull: (items) => {
        if (task.state === TaskState.Dispatched) task.slot?.handle.post([ToWorker.Pull, task.id, items], NO_TRANSFER);
      },
      stall: (error) => this.#expire(task, error),
      stop: () => {
        // The consumer is done: a normal end, not a failure.
        const wasQueued = task.state === TaskState.Queued;
        if (!task.finish(undefined)) return;
        this.#stats.completed++;
        if (wasQueued) {
          this.#queue.removed();
          if (this.#state !== 'open') this.#notifyIfEmpty();
        } else {
          this.#cancelRunning(task);
        }
      },
    };
  }

  /**
   * Internal, for `pool.tasks` before the task kinds are known: admits and queues a call now,
   * as a plain call that may still become a stream until it is dispatched (end of this tick).
   */
  [enqueuePending](name: string, args: unknown[], options: (RunOptions & StreamOptions) | undefined): PendingTask {
    this.#admit(name, args, options);
    const [outcome, settle] = deferred();
    const task = this.#createTask(name, args, takeMarked(args, options?.transfer ? [...options.transfer] : undefined), options, settle);
    this.#queue.push(task);
    this.#scheduleDispatch();
    return {
      result: () => this.#settled(outcome),
      streamInstead: () => {
        if (task.state !== TaskState.Queued) return undefined;
        const stream = new TaskStream<unknown>(this.#streamLimits(options), () => this.#streamControl(task));
        task.stream = stream;
        task.settle = (result) => stream.end(result);
        return stream;
      },
    };
  }

  /** Admission: refuses (throws) a call the pool cannot take now. */
  #admit(name: string, args: unknown[], options: RunOptions | StreamOptions | undefined): void {
    if (this.#state !== 'open') throw new ClosedError(this.#state === 'closing' ? 'The pool is closing' : undefined);
    if (typeof name !== 'string') throw new TypeError(`The task name must be a string (got ${typeof name})`);
    if (!Array.isArray(args)) throw new TypeError(`The arguments of "${name}" must be an array`);
    if (options !== undefined) {
      checkRunOptions(options);
      if (options.signal?.aborted) throw new AbortError(options.signal.reason);
    }
    if (this.#loadFailure !== undefined) this.#checkLoadFailure();
    // Workers not started yet count as free: a first burst is not shed while they start.
    const waiting = this.#queue.length + (this.#executor.waiting?.() ?? 0);
    if (waiting >= this.options.maxQueue + (this.options.maxSize - this.#busy)) {
      this.#stats.shed++;
      throw new QueueFullError(this.options.maxQueue, this.#retryAfter());
    }
  }

  #createTask(
    name: string,
    args: unknown[],
    transfer: TransferListItem[] | undefined,
    options: RunOptions | StreamOptions | undefined,
    settle: (outcome: unknown) => void,
  ): Task {
    this.#nextTaskId = ((this.#nextTaskId + 1) & 0x7fffffff) || 1; // 0 never names a task
    const task = new Task(this.#nextTaskId, name, args, transfer, options?.priority ?? 0, performance.now(), settle);
    task.trace = this.#tracing.start(task, options as CarryingOptions | undefined);
    if (options !== undefined) {
      if (options.timeout !== undefined || options.signal !== undefined) {
        armDeadline(task, options.timeout, options.signal, this.#expire);
      }
      // Checked by admission, before anything was armed.
      if (options.onProgress !== undefined) task.onProgress = options.onProgress;
    }
    return task;
  }

  #checkLoadFailure(): void {
    const failure = this.#loadFailure!;
    if (performance.now() < failure.until) throw new TaskModuleError(this.moduleUrl, failure.cause);
    this.#loadFailure = undefined;
  }

  #retryAfter(): number {
    const perTask = Number.isNaN(this.#runTimeMs) ? 1 : this.#runTimeMs;
    return Math.max(1, Math.ceil((perTask * (this.#queue.length + 1)) / this.options.maxSize));
  }

  // --- cancellation ----------------------------------------------------------------------

  /** A deadline passed or a signal fired: settle now, then stop the work wherever it is. */
  readonly #expire = (task: Task, error: Error): void => {
    const wasQueued = task.state === TaskState.Queued;
    if (!this.#fail(task, error)) return;
    if (wasQueued) {
      this.#queue.removed();
      if (this.#state !== 'open') this.#notifyIfEmpty();
    } else {
      this.#cancelRunning(task);
    }
  };

  /** Tells a dispatched task's worker to stop it; ends the worker if it overstays the grace period. */
  #cancelRunning(task: Task): void {
    const slot = task.slot;
    if (slot === undefined || slot.isRetiring) return;
    slot.handle.post([ToWorker.Cancel, task.id], NO_TRANSFER);
    if (slot.cancelFlag !== undefined) flagCancelled(slot.cancelFlag, task.id);
    // Only the head of the FIFO can be running; the others are skipped by the worker.
    if (slot.inflight.peek() === task && slot.killTimer === undefined && this.options.cancelGracePeriod !== Infinity) {
      slot.killTimer = setTimeout(() => {
        slot.killTimer = undefined;
        // Still not answered: end the worker; tasks behind it go back to the queue.
        if (slot.inflight.peek() === task) this.#retire(slot, true);
      }, this.options.cancelGracePeriod);
    }
  }

  // --- dispatch --------------------------------------------------------------------------

  /** Dispatch waits for the end of the current tick, so a burst of calls shares messages. */
  #scheduleDispatch(): void {
    if (!this.#isDispatchScheduled) {
      this.#isDispatchScheduled = true;
      queueMicrotask(this.#dispatchQueued);
    }
  }

  #dispatch(): void {
    this.#isDispatchScheduled = false;
    if (this.#queue.length === 0) return;
    let idle = 0;
    let starting = 0;
    for (const slot of this.#workers) {
      if (!slot.isReady) starting++;
      else if (!slot.isRetiring && slot.inflight.length === 0) idle++;
    }
    const spare = this.options.maxSize - this.#workers.length;
    if (this.#depth === 1 || this.#queue.length <= idle + starting + spare) {
      // Slow tasks, or no backlog beyond what free workers can take: one task each, so a slow
      // task never waits behind another while a worker could run it, and a waiting task stays
      // in the queue, where admission (`maxQueue`) and cancellation see it.
      this.#assign(1, true);
    } else {
      // A backlog of tiny tasks: fill idle workers first, then top up every pipeline to `depth`.
      this.#assign(this.#depth, true);
      if (this.#queue.length > 0) this.#assign(this.#depth, false);
    }
    if (this.#queue.length > 0) this.#grow();
  }

  #assign(depth: number, idleOnly: boolean): void {
    const maxTasks = this.options.maxTasksPerWorker;
    let candidates = 0;
    for (const slot of this.#workers) if (slot.canTake(depth, idleOnly, maxTasks)) candidates++;
    for (const slot of this.#workers) {
      if (candidates === 0 || this.#queue.length === 0) return;
      if (!slot.canTake(depth, idleOnly, maxTasks)) continue;
      const room = Math.min(depth - slot.inflight.length, maxTasks - slot.assigned);
      this.#send(slot, Math.min(room, Math.ceil(this.#queue.length / candidates--)));
    }
  }

  #send(slot: WorkerSlot, count: number): void {
    const message: unknown[] = [ToWorker.Run];
    const tasks: Task[] = [];
    let transfer: TransferListItem[] | undefined;
    for (let i = 0; i < count; i++) {
      const next = this.#queue.peek();
      if (next === undefined) break;
      if (next.stream !== undefined) {
        // A stream holds its worker until it ends, so it travels alone.
        if (tasks.length === 0) this.#sendStream(slot, this.#queue.shift()!);
        break;
      }
      const task = this.#queue.shift()!;
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
      if (this.#queue.length > 0) this.#scheduleDispatch();
      return;
    }
    this.#accept(slot, tasks);
  }

  #sendStream(slot: WorkerSlot, task: Task): void {
    try {
      slot.handle.post([ToWorker.Stream, task.id, task.trace?.address ?? task.name, task.args, task.stream!.highWaterMark], task.transfer ?? NO_TRANSFER);
    } catch (error) {
      this.#fail(task, notCloneable(error, task));
      return;
    }
    slot.isStreaming = true;
    this.#accept(slot, [task]);
  }

  /** A batch could not be serialised: send each task alone and fail only the culprits. */
  #sendEachAlone(slot: WorkerSlot, tasks: Task[]): void {
    for (const task of tasks) {
      try {
        slot.handle.post([ToWorker.Run, task.id, task.trace?.address ?? task.name, task.args], task.transfer ?? NO_TRANSFER);
      } catch (error) {
        this.#fail(task, notCloneable(error, task));
        continue;
      }
      this.#accept(slot, [task]);
    }
  }

  /** Records tasks as handed to `slot`. */
  #accept(slot: WorkerSlot, tasks: Task[]): void {
    if (slot.inflight.length === 0) {
      this.#busy++;
      slot.handle.ref();
    }
    const now = performance.now();
    for (const task of tasks) {
      task.state = TaskState.Dispatched;
      task.slot = slot;
      slot.inflight.push(task);
      this.#stats.waitTime.record(now - task.enqueuedAt);
      if (task.trace !== undefined) task.trace.dispatched(slot.id, now);
      if (this.#isObserved) {
        this.emit('taskStarted', { id: task.id, name: task.name, workerId: slot.id, waitTime: now - task.enqueuedAt });
      }
    }
    slot.assigned += tasks.length;
  }

  /** Starts workers for the backlog, up to `maxSize`, after a pause if workers keep crashing. */
  #grow(): void {
    if (this.#loadFailure !== undefined || this.#state === 'closed' || this.#respawnTimer !== undefined) return;
    let starting = 0;
    for (const slot of this.#workers) if (!slot.isReady) starting++;
    const wanted = Math.ceil(this.#queue.length / this.#depth) - starting;
    const room = this.options.maxSize - this.#workers.length;
    if (wanted <= 0 || room <= 0) return;
    if (this.#crashStreak > 1) {
      const pause = Math.min(RESPAWN_MAX_MS, 50 * 2 ** (this.#crashStreak - 2));
      this.#respawnTimer = setTimeout(() => {
        this.#respawnTimer = undefined;
        this.#spawn();
        this.#dispatch();
      }, pause);
      return;
    }
    for (let i = Math.min(wanted, room); i > 0 && this.#loadFailure === undefined; i--) this.#spawn();
  }

  #spawn(): void {
    const cancelFlag = this.#executor.sharesMemory ? createCancelFlag() : undefined;
    const slot = new WorkerSlot(++this.#nextWorkerId, cancelFlag);
    try {
      slot.handle = this.#executor.spawn(
        { moduleUrl: this.moduleUrl, poolName: this.options.name, workerId: slot.id, cancelFlag },
        {
          message: (message) => this.#onMessage(slot, message),
          exit: (exit) => this.#onExit(slot, exit),
        },
      );
    } catch (error) {
      // Node refused to start it (an `execArgv` flag a thread cannot take, say): a load failure.
      this.#onLoadFailed(undefined, error);
      return;
    }
    this.#workers.push(slot);
    this.emit('workerSpawned', { workerId: slot.id });
  }

  // --- worker events ---------------------------------------------------------------------

  #onMessage(slot: WorkerSlot, message: WorkerMessage): void {
    switch (message[0]) {
      case FromWorker.Results:
        this.#onResults(slot, message);
        break;
      case FromWorker.Items: {
        const task = slot.inflight.peek();
        if (task?.id === message[1] && task.state !== TaskState.Settled) {
          task.stream?.push(message.slice(2));
          task.trace?.itemsReceived(message.length - 2);
        }
        break;
      }
      case FromWorker.Progress: {
        // Not only the head: a batch's tasks report progress before their shared results message.
        const task = inflightTask(slot, message[1]);
        if (task !== undefined && task.state !== TaskState.Settled) task.trace?.progressReceived();
        if (task !== undefined && task.state !== TaskState.Settled && task.onProgress !== undefined) {
          const onProgress = task.onProgress;
          invokeUserCode(() => onProgress(message[2]));
        }
        break;
      }
      case FromWorker.Ready:
        this.#streamTasks ??= new Set(message[1]);
        this.#onReady(slot);
        break;
      case FromWorker.LoadFailed:
        this.#onLoadFailed(slot, decodeError(message[1]));
        break;
      case FromWorker.Closed:
        slot.handle.terminate();
        break;
    }
  }

  #onResults(slot: WorkerSlot, message: unknown[]): void {
    const count = (message.length - 2) / 3;
    const runTime = (message[1] as number) / count;
    this.#observeRunTime(runTime);
    slot.busyTime += message[1] as number;
    for (let i = 2; i < message.length; i += 3) {
      const task = slot.inflight.shift();
      if (task === undefined || task.id !== message[i]) {
        // The in-order invariant broke: nothing this worker says can be trusted any more.
        this.#retire(slot, true);
        return;
      }
      this.#stats.runTime.record(runTime);
      if (task.trace !== undefined) task.trace.ran(runTime);
      if (task.stream !== undefined) slot.isStreaming = false;
      if (task.state === TaskState.Settled) continue; // timed out or aborted meanwhile
      if (message[i + 1] === Status.Ok) {
        this.#stats.completed++;
        this.#crashStreak = 0;
        task.finish(message[i + 2]);
        if (this.#isObserved) this.emit('taskFinished', { id: task.id, name: task.name, workerId: slot.id, runTime });
      } else {
        this.#fail(task, undefined, message[i + 2] as EncodedError);
      }
    }
    if (slot.inflight.length === 0) this.#onIdle(slot);
    if (this.#queue.length > 0) this.#dispatch();
    else if (this.#state !== 'open') this.#closeIdleWorkers();
  }

  #onIdle(slot: WorkerSlot): void {
    this.#busy--;
    slot.idleSince = performance.now();
    // An idle worker must not keep the process alive: a forgotten pool never hangs an exit.
    slot.handle.unref();
    if (slot.killTimer !== undefined) {
      clearTimeout(slot.killTimer);
      slot.killTimer = undefined;
    }
    if (slot.assigned >= this.options.maxTasksPerWorker) this.#retire(slot, false);
  }

  #observeRunTime(ms: number): void {
    this.#runTimeMs = Number.isNaN(this.#runTimeMs) ? ms : this.#runTimeMs * 0.8 + ms * 0.2;
    this.#depth = Math.max(1, Math.min(this.#maxDepth, Math.floor(PIPELINE_MS / this.#runTimeMs)));
  }

  #onReady(slot: WorkerSlot): void {
    slot.isReady = true;
    slot.idleSince = performance.now();
    this.#loadRetryMs = LOAD_RETRY_MS;
    slot.handle.unref();
    this.#notifyReady();
    this.#watchIdle();
    if (this.#queue.length > 0) this.#dispatch();
    else if (this.#state !== 'open') this.#closeIdleWorkers();
  }

  #onLoadFailed(slot: WorkerSlot | undefined, cause: unknown): void {
    if (slot !== undefined) this.#retire(slot, true);
    // Fail fast, then let a later call try again after a growing pause: no respawn loop.
    this.#loadFailure = { cause, until: performance.now() + this.#loadRetryMs };
    this.#loadRetryMs = Math.min(this.#loadRetryMs * 2, LOAD_RETRY_MAX_MS);
    for (const task of this.#queue.drain()) this.#fail(task, new TaskModuleError(this.moduleUrl, cause));
    this.#notifyReady();
  }

  #onExit(slot: WorkerSlot, exit: WorkerExit): void {
    this.#workers.splice(this.#workers.indexOf(slot), 1);
    clearTimeout(slot.killTimer);
    const expected = slot.isRetiring;
    if (!expected) this.#stats.crashes++;
    if (slot.inflight.length > 0) {
      this.#busy--;
      // The head was running (or already settled, if it was cancelled); the worker never
      // started the others, so they go back to the front of the queue.
      const [head, ...unstarted] = slot.inflight.drain();
      if (head !== undefined && head.state !== TaskState.Settled) {
        this.#crashStreak++;
        this.#fail(head, new WorkerExitedError(exit, exit.error));
      }
      const requeued = unstarted.filter((task) => task.state !== TaskState.Settled);
      if (this.#state === 'closed') for (const task of requeued) this.#fail(task, new ClosedError('The pool was destroyed'));
      else this.#queue.requeue(requeued);
    }
    if (!slot.isReady && !expected) this.#onLoadFailed(slot, exit.error ?? new WorkerExitedError(exit));
    this.emit('workerExited', { workerId: slot.id, exitCode: exit.exitCode, signal: exit.signal, expected, reason: exit.reason });
    if (this.#queue.length > 0) this.#dispatch();
    if (this.#workers.length > 0 && this.#state !== 'open') this.#closeIdleWorkers();
    this.#notifyIfEmpty();
  }

  /**
   * Resolves what waits for the pool to empty (`close`, `destroy`) once no worker is left and
   * nothing waits for one: a task queued while its workers are still to start (or to respawn
   * after a crash) is not done yet.
   */
  #notifyIfEmpty(): void {
    if (this.#workers.length > 0 || this.#queue.length > 0 || this.#whenEmpty.length === 0) return;
    const waiting = this.#whenEmpty;
    this.#whenEmpty = [];
    for (const resolve of waiting) resolve();
  }

  /** Fails a task once; returns whether it was still pending. */
  #fail(task: Task, error: unknown, encoded?: EncodedError): boolean {
    const failure = new Failure(encoded, error);
    if (!task.finish(failure)) return false;
    const code = failure.code;
    this.#stats.fail(code);
    if (this.#isObserved) this.emit('taskFailed', { id: task.id, name: task.name, code, error: failure.toError() });
    return true;
  }

  /** Ends a worker on purpose: gracefully (teardown) when idle, at once when `now`. */
  #retire(slot: WorkerSlot, now: boolean): void {
    if (slot.isRetiring && !now) return;
    slot.isRetiring = true;
    if (now) {
      // Referenced until its exit arrives: `destroy()` and `close()` wait for that exit, and an
      // unreferenced worker would let the event loop empty first, leaving them unsettled.
      slot.handle.ref();
      slot.handle.terminate();
    } else {
      slot.handle.ref();
      slot.handle.post([ToWorker.Close], NO_TRANSFER);
    }
  }

  // --- elastic size ----------------------------------------------------------------------

  /** Ends workers idle longer than `idleTimeout`, down to `minSize`; one timer for the pool. */
  #watchIdle(): void {
    if (this.#idleTimer !== undefined || this.options.idleTimeout === Infinity) return;
    const period = Math.max(10, Math.min(this.options.idleTimeout / 2, 5000));
    this.#idleTimer = setInterval(() => {
      const now = performance.now();
      let alive = this.#workers.filter((slot) => !slot.isRetiring).length;
      for (const slot of this.#workers) {
        if (alive <= this.options.minSize) break;
        if (slot.isReady && !slot.isRetiring && slot.inflight.length === 0 && now - slot.idleSince >= this.options.idleTimeout) {
          this.#retire(slot, false);
          alive--;
        }
      }
      if (this.#workers.length === 0) {
        clearInterval(this.#idleTimer);
        this.#idleTimer = undefined;
      }
    }, period);
    this.#idleTimer.unref();
  }

  // --- shutdown --------------------------------------------------------------------------

  /** While closing: once nothing waits, ask each idle worker to run `teardown` and leave. */
  #closeIdleWorkers(): void {
    if (this.#state === 'open' || this.#queue.length > 0) return;
    for (const slot of this.#workers) {
      if (slot.isReady && !slot.isRetiring && slot.inflight.length === 0) this.#retire(slot, false);
    }
  }

  /** Fails everything pending with `ERR_OFFLOAD_CLOSED` and ends every worker now. */
  #terminateAll(message: string): { queued: number; running: number } {
    const cancelled = { queued: 0, running: 0 };
    for (const task of this.#queue.drain()) if (this.#fail(task, new ClosedError(message))) cancelled.queued++;
    for (const slot of this.#workers) {
      for (const task of slot.inflight) if (this.#fail(task, new ClosedError(message))) cancelled.running++;
      this.#retire(slot, true);
    }
    return cancelled;
  }

  #notifyReady(): void {
    if (this.#whenReady.length === 0) return;
    const waiting = this.#whenReady;
    this.#whenReady = [];
    for (const check of waiting) check();
  }

  #whenNoWorkers(): Promise<void> {
    if (this.#workers.length === 0 && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#whenEmpty.push(resolve));
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

/** The task `id` among those handed to `slot`, if still there. */
function inflightTask(slot: WorkerSlot, id: unknown): Task | undefined {
  for (const task of slot.inflight) if (task.id === id) return task;
  return undefined;
}

/** Creates a pool for a task module: `createPool<typeof Tasks>(new URL('./tasks.js', import.meta.url))`. */
export function createPool<M extends object = UntypedTasks>(moduleUrl: URL | string, options?: PoolOptions): Pool<M> {
  return new Pool<M>(moduleUrl, options);
}

function toModuleUrl(moduleUrl: URL | string): string {
  if (moduleUrl instanceof URL) return moduleUrl.href;
  if (typeof moduleUrl === 'string') {
    if (moduleUrl.startsWith('file:')) return new URL(moduleUrl).href;
    if (moduleUrl.startsWith('/')) return pathToFileURL(moduleUrl).href;
  }
  throw new TypeError(
    `The task module must be a file URL or an absolute path, such as new URL('./tasks.js', import.meta.url) (got ${String(moduleUrl)})`,
  );
}

/** The caller's frames (sync and async), to append to errors that come back from a worker. */
function callerFrames(): string {
  const holder: { stack?: string } = {};
  Error.captureStackTrace(holder, callerFrames);
  const stack = holder.stack ?? '';
  return stack.slice(stack.indexOf('\n') + 1);
}

/** A promise and the function that resolves it (Node 20 has no `Promise.withResolvers`). */
function deferred(): [Promise<unknown>, (outcome: unknown) => void] {
  let settle!: (outcome: unknown) => void;
  const promise = new Promise<unknown>((resolve) => (settle = resolve));
  return [promise, settle];
}
