/**
 * The pool core: admission, results, faults and lifecycle. Written once against the small
 * `Executor` interface, so every executor gets the same behaviour. Which worker gets which queued
 * task, and how many each may hold ahead, is the scheduling's job (`./scheduling/`).
 *
 * Invariant: every admitted call settles exactly once (`Task.finish` drops later outcomes).
 */
import { EventEmitter } from 'node:events';
import { pathToFileURL } from 'node:url';
import type { TransferListItem } from 'node:worker_threads';
import { AbortError, ClosedError, QueueFullError, TaskModuleError, WorkerExitedError } from '../errors.js';
import type { Executor, WorkerExit } from '../executors/executor.js';
import { createExecutor } from '../executors/index.js';
import { createCancelFlag, flagCancelled } from '../protocol/cancel-flag.js';
import { createClaimCell } from '../protocol/claim-cell.js';
import { decodeError, type EncodedError } from '../protocol/error-codec.js';
import { FromWorker, Status, ToWorker, type WorkerMessage } from '../protocol/messages.js';
import { hasMarks, takeMarked, transferListOf } from '../transfer.js';
import { callBack, invokeUserCode } from '../styles/callback.js';
import { createHandles, type TaskHandles } from '../styles/handle.js';
import type { CallTaskName, StreamItem, StreamTaskName, TaskArgs, TaskCallback, TaskResult, UntypedTasks } from '../types.js';
import { abortReason, isAborted } from './abort-signal.js';
import { armDeadline } from './deadline.js';
import { MAX_TASK_NAME } from '../remote/options.js';
import { cancelHook, type CancellableOptions } from './cancel-hook.js';
import { checkRunOptions, resolveOptions, type PoolOptions, type ResolvedOptions } from './options.js';
import { StatsRecorder, type PoolStats } from './stats.js';
import { Failure, Task, TaskState } from './task.js';
import { TaskQueue } from './task-queue.js';
import { TaskStream, type StreamControl, type StreamLimits } from './stream.js';
import { setLongTimeout } from './long-timeout.js';
import { Dispatcher } from './scheduling/dispatcher.js';
import { askBack, givenBack, takeBackUnstarted, waitingAhead, withdraw } from './scheduling/hand-ahead.js';
import { MAX_DEPTH, PipelineDepth } from './scheduling/pipeline-depth.js';
import { WorkerSlot } from './worker-slot.js';
import { CallTracing, type CarryingOptions } from '../tracing/call-trace.js';
import { quoted, shown } from '../quoted.js';
import { now as clock } from '../clock.js';

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
  /**
   * Key affinity: calls with the same key run on the same worker, one at a time, in call order,
   * so per-key state warmed there is reused. Not with the remote executor.
   */
  key?: string;
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

  /** Undefined while its code loads (executors other than threads: see executors/index.ts). */
  #executor: Executor | undefined;
  readonly #executorLoaded: Promise<void>;
  readonly #queue = new TaskQueue();
  readonly #workers: WorkerSlot[] = [];
  readonly #stats = new StatsRecorder();
  readonly #tracing: CallTracing;
  #nextTaskId = 0;
  #nextWorkerId = 0;
  #busy = 0;
  /** Workers spawned and not ready yet (nor ended). */
  #starting = 0;
  readonly #depth: PipelineDepth;
  readonly #dispatcher: Dispatcher;
  #isObserved = false;
  /** Depth of the pool's handling of worker messages and exits: calls made meanwhile wait for the end of the tick. */
  #handling = 0;
  #state: 'open' | 'closing' | 'closed' = 'open';
  #closed: Promise<CloseReport> | undefined;
  #isDestroyedByCall = false;
  #whenEmpty: Array<() => void> = [];
  #whenReady: Array<() => void> = [];
  #loadFailure: { cause: unknown; until: number } | undefined;
  #loadRetryMs = LOAD_RETRY_MS;
  #streamTasks: ReadonlySet<string> | undefined;
  /** Whether the pool has warned that `maxWorkerMemoryMb` is below what a fresh worker uses. */
  #hasWarnedOfMemoryLimit = false;
  /** Crashes since a task last completed: grows the respawn pause, so a crash loop slows down. */
  #crashStreak = 0;
  #respawnTimer: NodeJS.Timeout | undefined;
  #idleTimer: NodeJS.Timeout | undefined;

  constructor(moduleUrl: URL | string, options: PoolOptions = {}) {
    super();
    this.moduleUrl = toModuleUrl(moduleUrl);
    this.options = Object.freeze(resolveOptions(options));
    this.#depth = new PipelineDepth();
    const executor = createExecutor(this.options);
    if (executor instanceof Promise) {
      this.#executorLoaded = executor.then(
        (loaded) => this.#onExecutorLoaded(loaded),
        (error: unknown) => {
          // Offload's own file is missing (a broken install): every call fails as a load failure
          // would, naming the cause, with no retry that could ever succeed.
          this.#onLoadFailed(undefined, error);
          this.#loadFailure!.until = Infinity;
        },
      );
    } else {
      this.#onExecutorLoaded(executor);
      this.#executorLoaded = Promise.resolve();
    }
    this.#tracing = new CallTracing(this.options);
    this.#dispatcher = new Dispatcher({
      queue: this.#queue,
      workers: this.#workers,
      depth: this.#depth,
      maxSize: this.options.maxSize,
      maxTasksPerWorker: this.options.maxTasksPerWorker,
      concurrency: this.options.concurrentTasksPerWorker,
      accept: (slot, tasks, ahead) => this.#accept(slot, tasks, ahead),
      fail: (task, error) => this.#fail(task, error),
      grow: () => this.#grow(),
    });
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

  #onExecutorLoaded(executor: Executor): void {
    this.#executor = executor;
    this.#depth.maxDepth = executor.maxDepth ?? MAX_DEPTH;
    // Calls made meanwhile waited in the queue: their workers start now.
    if (this.#queue.length > 0) this.#dispatcher.dispatch();
  }

  /**
   * Emits one of the pool's events. A listener runs in the middle of the pool's bookkeeping:
   * what it throws surfaces as an uncaught exception, as any Node callback's would, and never
   * unwinds the pool half-way (a call left unsettled, a worker left counted busy), nor keeps
   * the listeners after it (the metrics adapter's among them) from hearing the event.
   */
  #announce<E extends keyof PoolEvents>(event: E, ...payload: PoolEvents[E]): void {
    // Raw listeners: a `once` wrapper removes itself when called.
    for (const listener of (this as EventEmitter).rawListeners(event)) invokeUserCode(() => listener.apply(this, payload));
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
    const read = checkRunOptions(options) as StreamOptions;
    return new TaskStream<StreamItem<M, K>>(this.#streamLimits(read), (stream) =>
      this.#startStream(name, args as unknown[], read, stream as TaskStream<unknown>),
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
    if (this.#executor === undefined) {
      await this.#executorLoaded;
      // Closed while the executor's code loaded. A pool that had it at once (threads, or a later
      // process pool) started its workers before close() and resolves, or fails if destroy()
      // ended them: the same answer here, where nothing was started for close() to wait for.
      if (this.#state !== 'open' && this.#loadFailure === undefined) {
        if (this.#isDestroyedByCall) throw new ClosedError('The pool was destroyed');
        return;
      }
    }
    if (this.#loadFailure !== undefined) this.#checkLoadFailure();
    const target = this.options.minSize > 0 ? this.options.minSize : this.options.maxSize;
    // A worker being recycled or ended counts for nothing: it takes no task, and leaves soon. It
    // holds its place until it has left, though: never more than `maxSize` workers at once, so
    // its successor starts once it is gone (each exit checks again). A `workerSpawned` listener
    // may destroy or close the pool: no worker is started after that.
    const startMissing = (): void => {
      while (this.#state === 'open' && this.#liveWorkers() < target && this.#workers.length < this.options.maxSize && this.#loadFailure === undefined) {
        this.#spawn();
      }
    };
    startMissing();
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (this.#loadFailure !== undefined) reject(new TaskModuleError(this.moduleUrl, this.#loadFailure.cause));
        // Destroyed meanwhile: the workers it waited for were ended, and never will be ready.
        else if (this.#state === 'closed') reject(new ClosedError('The pool was destroyed'));
        // close()'s timeout ended workers still starting: they never will be ready either.
        else if (this.#workers.some((slot) => slot.isRetiring && !slot.isReady)) reject(new ClosedError('The pool closed before its workers started'));
        else {
          startMissing();
          // Closing meanwhile, no worker is started any more: what was started is all it waits for.
          const isStarted = this.#state !== 'open' || this.#liveWorkers() >= target;
          if (isStarted && this.#workers.every((slot) => slot.isReady || slot.isRetiring)) resolve();
          else this.#whenReady.push(check);
        }
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
      throw new RangeError(`close({ timeout }) must be a number of milliseconds or Infinity (got ${shown(timeout)})`);
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
    this.#isDestroyedByCall = true;
    clearInterval(this.#idleTimer);
    clearTimeout(this.#respawnTimer);
    this.#terminateAll('The pool was destroyed');
    this.#notifyReady();
    await this.#whenNoWorkers();
  }

  stats(): PoolStats {
    return this.#stats.snapshot(this.#workers, this.#busy, this.#waiting());
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
    const read = this.#admit(name, args, options);
    const transfer = transferListOf(args, read?.transfer);
    const [outcome, settle] = deferred();
    // Outside the promise: what `captureContext` throws must reach the caller as a refusal, not as a rejection nobody handles.
    const task = this.#createTask(name, args, transfer, read, settle);
    this.#queue.push(task);
    // Inside the pool's handling of a worker's message or exit (a listener or `onProgress`
    // making a call), the handling finishes first: the call waits for the end of the tick.
    if (this.#handling === 0) this.#dispatcher.queued(task);
    else this.#dispatcher.schedule();
    return outcome;
  }

  /** Queues a generator task feeding `stream`; ends the stream at once when refused. */
  #startStream(name: string, args: unknown[], options: StreamOptions, stream: TaskStream<unknown>): StreamControl | undefined {
    let task: Task;
    try {
      const read = this.#admit(name, args, options);
      task = this.#createTask(name, args, transferListOf(args, undefined), read, (outcome) => stream.end(outcome));
    } catch (error) {
      stream.end(new Failure(undefined, error));
      return undefined;
    }
    task.stream = stream;
    this.#queue.push(task);
    this.#dispatcher.schedule();
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
        const slot = task.slot;
        if (!task.finish(undefined)) return;
        this.#stats.completed++;
        // Off the queue's count first: a listener below may destroy the pool, whose drain must
        // not count it too (see `#expire`).
        if (wasQueued) this.#queue.removed(task);
        // Announced started, so announced finished too (listeners pair the two, as the Prometheus
        // adapter does). Back in the queue after its worker exited, it runs nowhere now.
        if (task.wasStarted && slot !== undefined && this.#isObserved) {
          const runTime = wasQueued ? 0 : clock() - slot.runningSince;
          this.#announce('taskFinished', { id: task.id, name: task.name, workerId: slot.id, runTime });
        }
        if (wasQueued) {
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
    const read = this.#admit(name, args, options);
    const [outcome, settle] = deferred();
    const task = this.#createTask(name, args, transferListOf(args, read?.transfer), read, settle);
    this.#queue.push(task);
    this.#dispatcher.schedule();
    return {
      result: () => this.#settled(outcome),
      streamInstead: () => {
        // Failed before any worker saw it (its signal aborted in this tick): the stream ends with
        // that failure, as `for await` over a stream whose signal aborted would.
        if (task.state === TaskState.Settled && task.slot === undefined) {
          return new TaskStream<unknown>(this.#streamLimits(read), (stream) => {
            void outcome.then((failure) => stream.end(failure));
            return undefined;
          });
        }
        if (task.state !== TaskState.Queued) return undefined;
        const stream = new TaskStream<unknown>(this.#streamLimits(read), () => this.#streamControl(task));
        task.stream = stream;
        task.settle = (result) => stream.end(result);
        // Its task is queued already: `return()` must withdraw it, and an unread stream stall.
        stream.startNow();
        return stream;
      },
    };
  }

  /**
   * Admission: refuses (throws) a call the pool cannot take now. Returns its options as read
   * once and checked (see `checkRunOptions`): the call uses those, never `options` again.
   */
  #admit<O extends RunOptions | StreamOptions>(name: string, args: unknown[], options: O | undefined): O | undefined {
    try {
      return this.#admitOrThrow(name, args, options);
    } catch (error) {
      // A refused call takes its marks with it: a buffer marked for it must not move with a
      // later call that never asked for it (the caller still holds it, intact).
      if (hasMarks() && Array.isArray(args)) takeMarked(args);
      throw error;
    }
  }

  #admitOrThrow<O extends RunOptions | StreamOptions>(name: string, args: unknown[], options: O | undefined): O | undefined {
    if (this.#state !== 'open') throw new ClosedError(this.#state === 'closing' ? 'The pool is closing' : undefined);
    if (typeof name !== 'string') throw new TypeError(`The task name must be a string (got ${typeof name})`);
    if (!Array.isArray(args)) throw new TypeError(`The arguments of ${quoted(name)} must be an array`);
    // A remote job's name is bounded, as the rest of the job is: refused here, never written to Redis.
    if (name.length > MAX_TASK_NAME && this.options.executor === 'remote') {
      throw new TypeError(`The task name ${quoted(name)} is longer than the ${MAX_TASK_NAME} characters a remote job's name may have`);
    }
    const read = options === undefined ? undefined : (checkRunOptions(options) as O);
    if (read !== undefined) {
      if ((read as RunOptions).key !== undefined && this.options.executor === 'remote') {
        throw new TypeError('options.key does not apply to the remote executor: its jobs go to whichever remote worker is free');
      }
      if (read.signal !== undefined && isAborted(read.signal)) throw new AbortError(abortReason(read.signal));
    }
    if (this.#loadFailure !== undefined) this.#checkLoadFailure();
    if (this.options.maxQueue === Infinity) return read;
    // Workers not started yet count as free: a first burst is not shed while they start.
    const waiting = this.#waiting() + (this.#executor?.waiting?.() ?? 0);
    if (waiting >= this.options.maxQueue + this.#freeRoom()) {
      this.#stats.shed++;
      throw new QueueFullError(this.options.maxQueue, this.#retryAfter());
    }
    return read;
  }

  /**
   * Tasks waiting for a worker: queued, or sent to a worker behind the tasks it runs (pipelined
   * tiny tasks, a slow task handed ahead), which wait just as much.
   */
  #waiting(): number {
    const concurrency = this.options.concurrentTasksPerWorker;
    let waiting = this.#queue.length;
    for (const slot of this.#workers) {
      // A starting worker runs nothing yet: the task it was handed with its spawn still waits,
      // unless its caller gave up on it (a worker process has yet to give it back: it waits no more).
      const running = slot.isReady ? concurrency : slot.askedBack?.state === TaskState.Settled ? 1 : 0;
      if (slot.inflight.length > running) waiting += slot.inflight.length - running;
    }
    return waiting;
  }

  /** Tasks the workers could start now: one per worker not busy, or the room of each when tasks overlap. */
  #freeRoom(): number {
    const concurrency = this.options.concurrentTasksPerWorker;
    if (concurrency === 1) return this.options.maxSize - this.#busy;
    let room = (this.options.maxSize - this.#workers.length) * concurrency;
    for (const slot of this.#workers) if (!slot.isRetiring) room += Math.max(0, concurrency - slot.inflight.length);
    return room;
  }

  #createTask(
    name: string,
    args: unknown[],
    transfer: TransferListItem[] | undefined,
    options: RunOptions | StreamOptions | undefined,
    settle: (outcome: unknown) => void,
  ): Task {
    this.#nextTaskId = ((this.#nextTaskId + 1) & 0x7fffffff) || 1; // 0 never names a task
    const task = new Task(this.#nextTaskId, name, args, transfer, options?.priority ?? 0, clock(), settle);
    task.trace = this.#tracing.start(task, options as CarryingOptions | undefined);
    if (options !== undefined) {
      if (options.timeout !== undefined || options.signal !== undefined) {
        armDeadline(task, options.timeout, options.signal, this.#expire);
      }
      const hook = (options as CancellableOptions)[cancelHook];
      if (hook !== undefined) {
        let refusal: AbortError | undefined;
        let isQueueing = false;
        const release = hook((reason) => {
          if (isQueueing) this.#expire(task, new AbortError(reason));
          else refusal ??= new AbortError(reason);
        });
        isQueueing = true;
        if (typeof release === 'function') {
          const disarm = task.disarm;
          task.disarm = disarm === undefined ? release : () => (disarm(), release());
        }
        // Cancelled before it was even queued (what cancels it had fired already): refused, as
        // a call whose signal had aborted is, so no worker ever sees it.
        if (refusal !== undefined) {
          task.disarm?.();
          task.trace?.end(new Failure(undefined, refusal));
          throw refusal;
        }
      }
      // Checked by admission, before anything was armed.
      if (options.onProgress !== undefined) task.onProgress = options.onProgress;
      const key = (options as RunOptions).key;
      if (key !== undefined) {
        task.key = key;
        this.#dispatcher.keyed();
      }
    }
    return task;
  }

  #checkLoadFailure(): void {
    const failure = this.#loadFailure!;
    if (clock() < failure.until) throw new TaskModuleError(this.moduleUrl, failure.cause);
    this.#loadFailure = undefined;
  }

  #retryAfter(): number {
    const perTask = Number.isNaN(this.#depth.runTimeMs) ? 1 : this.#depth.runTimeMs;
    return Math.max(1, Math.ceil((perTask * (this.#queue.length + 1)) / this.options.maxSize));
  }

  // --- cancellation ----------------------------------------------------------------------

  /** A deadline passed or a signal fired: settle now, then stop the work wherever it is. */
  readonly #expire = (task: Task, error: unknown): void => {
    if (task.state === TaskState.Settled) return;
    const wasQueued = task.state === TaskState.Queued;
    // Off the queue's count before it fails: a `taskFailed` listener may destroy the pool, whose
    // drain must not count it too (the count would then go below zero, and close() never settle).
    if (wasQueued) this.#queue.removed(task);
    this.#fail(task, error);
    if (wasQueued) {
      if (this.#state !== 'open') this.#notifyIfEmpty();
    } else {
      this.#cancelRunning(task);
    }
  };

  /** Tells a dispatched task's worker to stop it; ends the worker if it overstays the grace period. */
  #cancelRunning(task: Task): void {
    const slot = task.slot;
    if (slot === undefined || slot.isRetiring) return;
    // Handed ahead and not started: taken back, the thread never hears of it.
    if (withdraw(slot, task)) {
      if (this.#queue.length > 0) this.#dispatcher.schedule();
      return;
    }
    // Handed to a worker process with its spawn: it gives the task back, or stops it if started.
    if (askBack(slot, task, ToWorker.Cancel)) return;
    slot.handle.post([ToWorker.Cancel, task.id], NO_TRANSFER);
    if (slot.cancelFlag !== undefined) flagCancelled(slot.cancelFlag, task.id);
    this.#killIfOverstays(slot, task);
  }

  /** Ends `slot`'s worker if `task`, cancelled while running, is not answered within the grace period. */
  #killIfOverstays(slot: WorkerSlot, task: Task): void {
    // Only the first tasks in flight can be running (the head, or as many as run concurrently);
    // the others are skipped by the worker.
    if (this.#isRunning(slot, task) && slot.killTimer === undefined && this.options.cancelGracePeriod !== Infinity) {
      slot.killTimer = setTimeout(() => {
        slot.killTimer = undefined;
        // Still not answered: end the worker; tasks behind it go back to the queue.
        if (this.#isRunning(slot, task)) this.#retire(slot, true);
      }, this.options.cancelGracePeriod);
    }
  }

  #isRunning(slot: WorkerSlot, task: Task): boolean {
    // A worker still starting runs nothing yet; a task it started meanwhile counts from its `Ready`.
    if (!slot.isReady) return false;
    if (slot.inflight.peek() === task) return true;
    const concurrency = this.options.concurrentTasksPerWorker;
    if (concurrency === 1) return false;
    for (let position = 0; position < concurrency; position++) if (slot.inflight.at(position) === task) return true;
    return false;
  }

  // --- dispatch bookkeeping ---------------------------------------------------------------

  /** Records tasks as handed to `slot`. */
  #accept(slot: WorkerSlot, tasks: Task[], ahead = false): void {
    if (slot.inflight.length === 0) {
      // A starting worker handed its first task is not busy yet: it counts once it is ready.
      if (slot.isReady) this.#busy++;
      slot.handle.ref();
    }
    for (const task of tasks) {
      task.state = TaskState.Dispatched;
      task.slot = slot;
      slot.inflight.push(task);
    }
    slot.assigned += tasks.length;
    // Announced once the whole batch is on the worker's books: a `taskStarted` listener that
    // destroys the pool then fails every task of it as closed, none left to fail as a crash.
    if (!ahead) for (const task of tasks) if (task.state !== TaskState.Settled) this.#started(slot, task);
  }

  /**
   * A task reached its worker's hands: it waited until now. Counted once per call: one handed on
   * again after its worker exited without starting it was counted at its first hand-over (so
   * `taskStarted` pairs with the one `taskFinished` or `taskFailed`); its trace records both.
   */
  #started(slot: WorkerSlot, task: Task): void {
    const now = clock();
    slot.runningSince = now;
    if (task.trace !== undefined) task.trace.dispatched(slot.id, now);
    if (task.wasStarted) return;
    task.wasStarted = true;
    const waitTime = now - task.enqueuedAt;
    this.#stats.waitTime.record(waitTime);
    if (this.#isObserved) this.#announce('taskStarted', { id: task.id, name: task.name, workerId: slot.id, waitTime });
  }

  /** Starts workers for the backlog, up to `maxSize`, after a pause if workers keep crashing. */
  #grow(): void {
    // Still loading the executor's code: its load dispatches again.
    if (this.#executor === undefined || this.#loadFailure !== undefined || this.#state === 'closed' || this.#respawnTimer !== undefined) return;
    let starting = 0;
    for (const slot of this.#workers) if (!slot.isReady) starting++;
    const perWorker = Math.max(this.#depth.value, this.options.concurrentTasksPerWorker);
    const wanted = Math.ceil(this.#queue.length / perWorker) - starting;
    const room = this.options.maxSize - this.#workers.length;
    if (wanted <= 0 || room <= 0) return;
    // No worker ready to take the backlog (a cold start, or every worker lost): each new thread
    // gets its first task with its spawn, and runs it as soon as its module has loaded.
    const isCold = !this.#workers.some((slot) => slot.isReady && !slot.isRetiring);
    if (this.#crashStreak > 1) {
      const pause = Math.min(RESPAWN_MAX_MS, 50 * 2 ** (this.#crashStreak - 2));
      this.#respawnTimer = setTimeout(() => {
        this.#respawnTimer = undefined;
        this.#spawn();
        this.#dispatcher.dispatch();
      }, pause);
      return;
    }
    for (let i = Math.min(wanted, room); i > 0 && this.#loadFailure === undefined && !this.#isDestroyed(); i--) {
      const slot = this.#spawn();
      if (slot !== undefined && isCold) this.#dispatcher.handAtSpawn(slot);
    }
  }

  /** Read afresh after user code ran (an event's listener): a comparison inline would stay narrowed by the checks before it. */
  #isDestroyed(): boolean {
    return this.#state === 'closed';
  }

  /** Workers that stay: neither being recycled nor ended. */
  #liveWorkers(): number {
    let live = 0;
    for (const slot of this.#workers) if (!slot.isRetiring) live++;
    return live;
  }

  /**
   * Starts a worker, unless `maxSize` are there already (counting those still leaving): every
   * caller relies on it, warmup(), growth and a respawn held back after crashes alike, and the
   * dispatch sizes what it hands ahead by the room left. `undefined` when none was started.
   */
  #spawn(): WorkerSlot | undefined {
    if (this.#workers.length >= this.options.maxSize) return undefined;
    const executor = this.#executor!;
    const sharesMemory = executor.sharesMemory;
    const cancelFlag = sharesMemory ? createCancelFlag() : undefined;
    const claimCell = sharesMemory ? createClaimCell() : undefined;
    const slot = new WorkerSlot(++this.#nextWorkerId, cancelFlag, claimCell, executor.givesBackByMessage === true);
    try {
      slot.handle = executor.spawn(
        {
          moduleUrl: this.moduleUrl,
          poolName: this.options.name,
          workerId: slot.id,
          cancelFlag,
          claimCell,
          niceIncrement: this.options.niceIncrement || undefined,
          concurrency: this.options.concurrentTasksPerWorker > 1 ? this.options.concurrentTasksPerWorker : undefined,
          maxMemoryMb: Number.isFinite(this.options.maxWorkerMemoryMb) ? this.options.maxWorkerMemoryMb : undefined,
        },
        {
          message: (message) => this.#onWorkerEvent(slot, message, true),
          exit: (exit) => this.#onWorkerEvent(slot, exit, false),
        },
      );
    } catch (error) {
      // Node refused to start it (an `execArgv` flag a thread cannot take, say): a load failure.
      this.#onLoadFailed(undefined, error);
      return undefined;
    }
    this.#workers.push(slot);
    this.#starting++;
    this.#announce('workerSpawned', { workerId: slot.id });
    return slot;
  }

  // --- worker events ---------------------------------------------------------------------

  /** A worker's message, or its exit: calls made while the pool handles it wait for the end of the tick. */
  #onWorkerEvent(slot: WorkerSlot, event: WorkerMessage | WorkerExit, isMessage: boolean): void {
    this.#handling++;
    try {
      // Executors keep task code off the channel (a thread's own MessageChannel, a process's
      // wrapped process.send); what is not one of offload's messages is still not read.
      if (isMessage) {
        if (Array.isArray(event)) this.#onMessage(slot, event as WorkerMessage);
      } else this.#onExit(slot, event as WorkerExit);
    } finally {
      this.#handling--;
    }
  }

  #onMessage(slot: WorkerSlot, message: WorkerMessage): void {
    switch (message[0]) {
      case FromWorker.Results:
        this.#onResults(slot, message);
        break;
      case FromWorker.Items: {
        const task = slot.find(message[1]);
        if (task !== undefined && task.state !== TaskState.Settled) {
          task.stream?.push(message.slice(2));
          task.trace?.itemsReceived(message.length - 2);
        }
        break;
      }
      case FromWorker.Progress: {
        // Not only the head: a batch's tasks (or overlapping ones) report progress before their results.
        const task = slot.find(message[1]);
        if (task !== undefined && task.state !== TaskState.Settled) task.trace?.progressReceived();
        if (task !== undefined && task.state !== TaskState.Settled && task.onProgress !== undefined) {
          try {
            // Typed as returning nothing, yet an async callback returns a promise: its rejection
            // is the same fault as a throw, and left alone would be an unhandled rejection.
            const returned: unknown = task.onProgress(message[2]);
            if (isThenable(returned)) Promise.resolve(returned).catch((thrown: unknown) => this.#expire(task, thrown));
          } catch (thrown) {
            // The caller's own callback broke: its call fails with that error and the task is
            // stopped, instead of an uncaught exception ending the process.
            this.#expire(task, thrown);
          }
        }
        break;
      }
      case FromWorker.Ready:
        // Once per worker: a second is not offload's.
        if (slot.isReady) break;
        // Undefined when the worker cannot tell (a remote slot before any worker served the queue).
        if (message[1] !== undefined) this.#streamTasks ??= new Set(message[1]);
        if (message[2] !== undefined) this.#warnIfFreshWorkerOverLimit(message[2]);
        this.#onReady(slot);
        break;
      case FromWorker.LoadFailed:
        // Only ever before `Ready`.
        if (!slot.isReady) this.#onLoadFailed(slot, decodeError(message[1]));
        break;
      case FromWorker.GivenBack:
        if (slot.isReady) this.#onGivenBackOverMemory(slot, message);
        else this.#onGivenBack(slot, message[1], message[2]);
        break;
      case FromWorker.Closed:
        slot.handle.terminate();
        break;
      case FromWorker.OverMemory: {
        slot.isOverMemory = true;
        // The worker leaves a task handed ahead unclaimed once past its limit: take it back.
        const ahead = waitingAhead(slot);
        if (ahead !== undefined && withdraw(slot, ahead)) {
          this.#queue.requeue([ahead]);
          this.#dispatcher.schedule();
        }
        if (slot.inflight.length === 0) this.#recycle(slot);
        break;
      }
    }
  }

  #onResults(slot: WorkerSlot, message: unknown[]): void {
    const count = (message.length - 2) / 3;
    if (count < 1 || !Number.isInteger(count) || typeof message[1] !== 'number' || !(message[1] >= 0)) {
      // Not a message offload's worker sends: nothing it says can be trusted any more.
      this.#retire(slot, true);
      return;
    }
    const runTime = (message[1] as number) / count;
    this.#depth.observe(runTime);
    slot.busyTime += message[1] as number;
    const overlaps = this.options.concurrentTasksPerWorker > 1;
    for (let i = 2; i < message.length; i += 3) {
      // One at a time, answers come in the order sent; overlapping async tasks answer as they settle.
      const task = overlaps ? this.#takeInflight(slot, message[i] as number) : slot.inflight.shift();
      if (task === undefined || task.id !== message[i]) {
        // The in-order invariant broke: nothing this worker says can be trusted any more. The
        // task taken off stays on its books, to fail with the worker's exit like the others.
        if (task !== undefined && !overlaps) slot.inflight.unshift(task);
        this.#retire(slot, true);
        return;
      }
      if (task.key !== undefined) this.#dispatcher.release(task);
      this.#stats.runTime.record(runTime);
      if (task.trace !== undefined) task.trace.ran(runTime);
      if (task.stream !== undefined) slot.isStreaming = false;
      if (task.state === TaskState.Settled) continue; // timed out or aborted meanwhile
      if (message[i + 1] === Status.Ok) {
        this.#stats.completed++;
        this.#crashStreak = 0;
        task.finish(message[i + 2]);
        if (this.#isObserved) this.#announce('taskFinished', { id: task.id, name: task.name, workerId: slot.id, runTime });
      } else {
        this.#fail(task, undefined, message[i + 2] as EncodedError);
      }
    }
    const next = slot.inflight.peek();
    if (next === undefined) this.#onIdle(slot);
    else if (next === slot.ahead) {
      // The task handed ahead is the worker's now: it started, or is about to.
      slot.ahead = undefined;
      if (next.state !== TaskState.Settled) this.#started(slot, next);
    }
    if (this.#queue.length > 0) this.#dispatcher.dispatch();
    else if (this.#state !== 'open') this.#closeIdleWorkers();
  }

  /** The in-flight task `id` of `slot`, taken off its in-flight FIFO (answered, or given back). */
  #takeInflight(slot: WorkerSlot, id: number): Task | undefined {
    const task = slot.find(id);
    if (task !== undefined) slot.inflight.remove(task);
    return task;
  }

  #onIdle(slot: WorkerSlot): void {
    this.#busy--;
    slot.idleSince = clock();
    // An idle worker must not keep the process alive: a forgotten pool never hangs an exit. One
    // being ended stays referenced until its exit arrives, which close() and destroy() await.
    if (!slot.isRetiring) slot.handle.unref();
    if (slot.killTimer !== undefined) {
      clearTimeout(slot.killTimer);
      slot.killTimer = undefined;
    }
    if (slot.isOverMemory || slot.assigned >= this.options.maxTasksPerWorker) this.#recycle(slot);
    else this.#dispatcher.freed(slot);
  }

  /** A worker process still starting gave back the task handed with its spawn: queued again, if still wanted. */
  #onGivenBack(slot: WorkerSlot, id: unknown, args: unknown): void {
    const task = givenBack(slot, id);
    if (task === undefined || task.state === TaskState.Settled) return;
    task.cameBack(args);
    this.#queue.requeue([task]);
    this.#dispatcher.dispatch();
  }

  /**
   * A worker past its memory limit gave back tasks it had not started, sent in a batch or before
   * the pool heard its `OverMemory`: they go back to the front of the queue, for a fresh worker.
   * Only ever after that `OverMemory`; never the task handed ahead, which the claim cell returns.
   */
  #onGivenBackOverMemory(slot: WorkerSlot, message: unknown[]): void {
    if (!slot.isOverMemory) return;
    let returned: Task[] | undefined;
    let removed = false;
    for (let i = 1; i < message.length; i += 2) {
      const id = message[i];
      // The task handed ahead stays on the books: the claim cell returns it.
      if (typeof id !== 'number' || id === slot.ahead?.id) continue;
      const task = this.#takeInflight(slot, id);
      if (task === undefined) continue;
      if (task.stream !== undefined) slot.isStreaming = false;
      slot.assigned--;
      removed = true;
      this.#dispatcher.release(task);
      if (task.state === TaskState.Settled) continue; // cancelled or timed out meanwhile
      task.cameBack(message[i + 1]);
      (returned ??= []).push(task);
    }
    if (returned !== undefined) this.#queue.requeue(returned);
    if (removed && slot.inflight.length === 0) this.#onIdle(slot);
    if (this.#queue.length > 0) this.#dispatcher.dispatch();
  }

  /** Replaces a worker that reached `maxTasksPerWorker` or `maxWorkerMemoryMb`, counted by cause. */
  #recycle(slot: WorkerSlot): void {
    if (slot.isRetiring) return;
    if (slot.isOverMemory) this.#stats.replaced.memory++;
    else this.#stats.replaced.tasks++;
    this.#retire(slot, false);
  }

  /**
   * A limit below what a worker uses before its first task replaces every worker after each task:
   * a mistake, most likely (a limit in bytes, or a process's resident set taken for a thread's
   * heap), which costs a worker's start-up per call. Said once per pool, as Node says its own.
   */
  #warnIfFreshWorkerOverLimit(memoryMb: unknown): void {
    const limit = this.options.maxWorkerMemoryMb;
    if (this.#hasWarnedOfMemoryLimit || typeof memoryMb !== 'number' || !(memoryMb > limit)) return;
    this.#hasWarnedOfMemoryLimit = true;
    process.emitWarning(
      `maxWorkerMemoryMb (${limit}) is below the ${Math.ceil(memoryMb)} MB a fresh worker of pool ${quoted(this.options.name)} uses before its first task: each of its workers will be replaced after every task`,
      { type: 'OffloadWarning', code: 'OFFLOAD_MEMORY_LIMIT_BELOW_FRESH_WORKER' },
    );
  }

  #onReady(slot: WorkerSlot): void {
    slot.isReady = true;
    slot.idleSince = clock();
    this.#loadRetryMs = LOAD_RETRY_MS;
    this.#starting--;
    const first = slot.inflight.peek();
    if (first === undefined) {
      if (!slot.isRetiring) slot.handle.unref();
      this.#dispatcher.freed(slot);
    } else {
      // The task handed with the spawn is the worker's now: it starts, or is about to. Cancelled
      // meanwhile, it runs cancelled, and the grace period starts now.
      this.#busy++;
      slot.ahead = undefined;
      slot.askedBack = undefined;
      if (first.state !== TaskState.Settled) this.#started(slot, first);
      else this.#killIfOverstays(slot, first);
    }
    this.#notifyReady();
    this.#watchIdle();
    if (this.#queue.length > 0) this.#dispatcher.dispatch();
    else if (this.#state !== 'open') this.#closeIdleWorkers();
  }

  #onLoadFailed(slot: WorkerSlot | undefined, cause: unknown): void {
    if (slot !== undefined) {
      this.#takeBackFromStarting(slot);
      this.#retire(slot, true);
    }
    // Fail fast, then let a later call try again after a growing pause: no respawn loop.
    this.#loadFailure = { cause, until: clock() + this.#loadRetryMs };
    this.#loadRetryMs = Math.min(this.#loadRetryMs * 2, LOAD_RETRY_MAX_MS);
    for (const task of this.#queue.drain()) this.#fail(task, new TaskModuleError(this.moduleUrl, cause));
    this.#notifyReady();
    // No worker may be left to exit (the first failed to spawn): close() waits on the queue alone.
    this.#notifyIfEmpty();
  }

  /**
   * A worker that will never be ready (its module failed, or it ended while starting) did not
   * start the task handed with its spawn: back to the queue, which then fails as it would have.
   */
  #takeBackFromStarting(slot: WorkerSlot, exit?: WorkerExit): void {
    const handed = takeBackUnstarted(slot);
    if (handed !== undefined) this.#returnUnstarted([handed], exit);
  }

  /**
   * Tasks a worker that exited never started go back to the queue, in call order — but a call
   * that moved something (`transfer`) fails as if it had run there: what it moved went with the
   * worker, and the pool holds only detached husks it cannot send again.
   */
  #returnUnstarted(tasks: readonly Task[], exit: WorkerExit | undefined): void {
    const requeued: Task[] = [];
    for (const task of tasks) {
      if (task.state === TaskState.Settled) continue;
      if (task.transfer !== undefined && exit !== undefined) this.#fail(task, new WorkerExitedError(exit, exit.error));
      else requeued.push(task);
    }
    if (this.#state === 'closed') for (const task of requeued) this.#fail(task, new ClosedError('The pool was destroyed'));
    else this.#queue.requeue(requeued);
  }

  #onExit(slot: WorkerSlot, exit: WorkerExit): void {
    this.#workers.splice(this.#workers.indexOf(slot), 1);
    clearTimeout(slot.killTimer);
    const expected = slot.isRetiring;
    if (!expected) this.#stats.crashes++;
    if (!slot.isReady) this.#starting--;
    this.#takeBackFromStarting(slot, exit);
    if (slot.inflight.length > 0) {
      if (slot.isReady) this.#busy--;
      // The first ones were running (or already settled, if cancelled): one, or up to
      // `concurrentTasksPerWorker`, as the worker starts tasks in the order sent. It never
      // started the others, so they go back to the front of the queue.
      const held = slot.inflight.drain();
      for (const task of held) this.#dispatcher.release(task);
      const running = held.splice(0, this.options.concurrentTasksPerWorker);
      const unstarted = held;
      let failed = false;
      for (const task of running) {
        if (task.state !== TaskState.Settled) failed = this.#fail(task, new WorkerExitedError(exit, exit.error)) || failed;
      }
      if (failed) this.#crashStreak++;
      this.#returnUnstarted(unstarted, exit);
    }
    if (!slot.isReady && !expected) this.#onLoadFailed(slot, exit.error ?? new WorkerExitedError(exit));
    this.#announce('workerExited', { workerId: slot.id, exitCode: exit.exitCode, signal: exit.signal, expected, reason: exit.reason });
    if (this.#state === 'open') this.#dispatcher.vacated();
    if (this.#queue.length > 0) this.#dispatcher.dispatch();
    this.#notifyReady(); // a warmup() waiting for this worker's place
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
    if (this.#isObserved) this.#announce('taskFailed', { id: task.id, name: task.name, code, error: failure.toError() });
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
      const now = clock();
      let alive = this.#liveWorkers();
      for (const slot of this.#workers) {
        if (alive <= this.options.minSize) break;
        if (slot.isIdle && now - slot.idleSince >= this.options.idleTimeout) {
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
      if (slot.isIdle) this.#retire(slot, false);
    }
  }

  /** Fails everything pending with `ERR_OFFLOAD_CLOSED` and ends every worker now. */
  #terminateAll(message: string): { queued: number; running: number } {
    const cancelled = { queued: 0, running: 0 };
    // A respawn still pending after a crash would start a worker nothing waits for (close's
    // timeout), and the pool's end would wait for it to load.
    clearTimeout(this.#respawnTimer);
    for (const task of this.#queue.drain()) if (this.#fail(task, new ClosedError(message))) cancelled.queued++;
    for (const slot of this.#workers) {
      // Only the first task on a worker runs, or the first `concurrentTasksPerWorker` when tasks
      // overlap; the ones behind (pipelined, handed ahead) wait, as does a starting worker's.
      let running = slot.isReady ? this.options.concurrentTasksPerWorker : 0;
      for (const task of slot.inflight) {
        if (this.#fail(task, new ClosedError(message))) {
          if (running > 0) cancelled.running++;
          else cancelled.queued++;
        }
        running--;
      }
      this.#retire(slot, true);
    }
    // With no worker yet (the executor still loading, or the calls not yet dispatched), no exit
    // will come to tell close() that the pool emptied.
    this.#notifyIfEmpty();
    // A warmup() waiting for workers ended before they were ready (close's timeout) hears it now.
    this.#notifyReady();
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
    `The task module must be a file URL or an absolute path, such as new URL('./tasks.js', import.meta.url) (got ${shown(moduleUrl)})`,
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

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as PromiseLike<unknown>).then === 'function';
}
