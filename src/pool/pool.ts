/**
 * The pool core: admission, dispatch, results, lifecycle. Written once against the small
 * `Executor` interface, so every executor gets the same behaviour.
 *
 * Dispatch path: a call becomes a `Task` in the pool's FIFO; a microtask later every ready
 * worker with room receives a share of the queue in one message. A worker runs its tasks one at
 * a time, in order, so each worker's in-flight tasks form a FIFO and results are matched to
 * tasks without any lookup. How many tasks a worker may hold ahead (`depth`) follows the
 * observed run time: one at a time for slow tasks, so a long task never holds others hostage
 * while a worker idles; a deep pipeline for tiny tasks, so messages stay few.
 */
import { pathToFileURL } from 'node:url';
import type { TransferListItem } from 'node:worker_threads';
import { ClosedError, NotCloneableError, QueueFullError, TaskModuleError, WorkerExitedError } from '../errors.js';
import type { Executor, WorkerExit, WorkerHandle } from '../executors/executor.js';
import { createExecutor } from '../executors/index.js';
import { findUncloneablePath } from '../protocol/clone-path.js';
import { decodeError, type EncodedError } from '../protocol/error-codec.js';
import { FromWorker, Status, ToWorker, type WorkerMessage } from '../protocol/messages.js';
import { takeMarked } from '../transfer.js';
import type { TaskArgs, TaskCallback, TaskName, TaskResult, UntypedTasks } from '../types.js';
import { resolveOptions, type PoolOptions, type ResolvedOptions } from './options.js';
import { Queue } from './queue.js';

export interface RunOptions {
  /** Buffers to move rather than copy, besides those marked with `transfer()`. */
  transfer?: readonly TransferListItem[];
}

export interface PoolStats {
  /** Workers alive (started on demand, up to `options.size`). */
  size: number;
  /** Workers running a task. */
  busy: number;
  /** Workers ready and without a task. */
  idle: number;
  /** Tasks waiting for a worker. */
  queued: number;
  /** Tasks that returned a value. */
  completed: number;
  /** Tasks that ended in an error (their own, or the pool's). */
  failed: number;
}

/** The typed functions of `pool.tasks`. */
export type TaskHandles<M> = {
  readonly [K in TaskName<M>]: (...args: TaskArgs<M, K>) => Promise<TaskResult<M, K>>;
};

/** How a task ended badly: an error encoded by a worker, or one raised here. */
class Failure {
  constructor(
    readonly encoded: EncodedError | undefined,
    readonly error?: unknown,
  ) {}

  toError(callerStack?: string): unknown {
    if (this.encoded !== undefined) return decodeError(this.encoded, callerStack);
    if (callerStack && this.error instanceof Error) {
      this.error.stack += `\n    at <offload: called from>\n${callerStack}`;
    }
    return this.error;
  }
}

class Task {
  constructor(
    readonly id: number,
    readonly name: string,
    readonly args: unknown[],
    readonly transfer: TransferListItem[] | undefined,
    readonly settle: (outcome: unknown) => void,
  ) {}
}

class WorkerSlot {
  handle!: WorkerHandle;
  isReady = false;
  /** Closing or terminated on purpose: its exit is expected. */
  isRetiring = false;
  readonly inflight = new Queue<Task>();

  constructor(readonly id: number) {}
}

/** Longest a worker's pipeline may represent, in milliseconds of observed run time. */
const PIPELINE_MS = 1;
const MAX_DEPTH = 64;
const LOAD_RETRY_MS = 1000;
const LOAD_RETRY_MAX_MS = 30_000;
const NO_TRANSFER: readonly TransferListItem[] = [];

/** Internal entry point used by `@blocking`; not part of the public surface. */
export const dispatch = Symbol('offload.dispatch');

export class Pool<M extends object = UntypedTasks> {
  /** Typed functions, one per task: `await pool.tasks.resize(image, 200)`. */
  readonly tasks: TaskHandles<M>;
  readonly options: Readonly<ResolvedOptions>;
  readonly moduleUrl: string;

  readonly #executor: Executor;
  readonly #queue = new Queue<Task>();
  readonly #workers: WorkerSlot[] = [];
  #nextTaskId = 0;
  #nextWorkerId = 0;
  #busy = 0;
  #completed = 0;
  #failed = 0;
  #runTimeMs = Number.NaN;
  #depth = 1;
  #isFlushScheduled = false;
  readonly #flush = (): void => this.#dispatchQueued();
  #state: 'open' | 'closing' | 'closed' = 'open';
  #closed: Promise<void> | undefined;
  #whenEmpty: Array<() => void> = [];
  #whenReady: Array<() => void> = [];
  #loadFailure: { cause: unknown; until: number } | undefined;
  #loadRetryMs = LOAD_RETRY_MS;

  constructor(moduleUrl: URL | string, options: PoolOptions = {}) {
    this.moduleUrl = toModuleUrl(moduleUrl);
    this.options = Object.freeze(resolveOptions(options));
    this.#executor = createExecutor(this.options);
    this.tasks = createHandles(this);
  }

  /** Runs a task by name: `await pool.run('resize', [image, 200])`. */
  run<K extends TaskName<M>>(name: K, args: TaskArgs<M, K>, options?: RunOptions): Promise<TaskResult<M, K>> {
    return this[dispatch](name, args as unknown[], options) as Promise<TaskResult<M, K>>;
  }

  /**
   * Runs a task and calls `callback(error, result)` once, on this thread's event loop, never
   * synchronously inside `submit`.
   */
  submit<K extends TaskName<M>>(name: K, args: TaskArgs<M, K>, callback: TaskCallback<TaskResult<M, K>>): void {
    if (typeof callback !== 'function') throw new TypeError('submit() needs a callback function');
    let pending: Promise<unknown>;
    try {
      pending = this.#enqueue(name, args as unknown[], undefined);
    } catch (error) {
      pending = Promise.resolve(new Failure(undefined, error));
    }
    void pending.then((outcome) => {
      if (outcome instanceof Failure) deliver(callback, callbackError(outcome.toError()));
      else deliver(callback, null, outcome as TaskResult<M, K>);
    });
  }

  /**
   * Starts every worker now (they otherwise start on demand) and resolves once all have loaded
   * the task module: pay the start-up before traffic arrives. Rejects with
   * `ERR_OFFLOAD_TASK_MODULE` when the module fails to load.
   */
  async warmup(): Promise<void> {
    if (this.#state !== 'open') throw new ClosedError();
    if (this.#loadFailure !== undefined) this.#checkLoadFailure();
    while (this.#workers.length < this.options.size) this.#spawn();
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (this.#loadFailure !== undefined) reject(new TaskModuleError(this.moduleUrl, this.#loadFailure.cause));
        else if (this.#workers.every((slot) => slot.isReady)) resolve();
        else this.#whenReady.push(check);
      };
      check();
    });
  }

  /** Stops admission, finishes queued and running tasks, runs `teardown`, ends the workers. */
  close(): Promise<void> {
    if (this.#closed === undefined) {
      if (this.#state === 'open') this.#state = 'closing';
      this.#closed = this.#whenNoWorkers().then(() => {
        this.#state = 'closed';
      });
      this.#closeIdleWorkers();
    }
    return this.#closed;
  }

  /** Ends every worker now; queued and running tasks fail with `ERR_OFFLOAD_CLOSED`. */
  async destroy(): Promise<void> {
    this.#state = 'closed';
    for (const task of this.#queue.drain()) this.#fail(task, new ClosedError('The pool was destroyed'));
    for (const slot of this.#workers) {
      slot.isRetiring = true;
      for (const task of slot.inflight.drain()) this.#fail(task, new ClosedError('The pool was destroyed'));
      slot.handle.terminate();
    }
    await this.#whenNoWorkers();
  }

  stats(): PoolStats {
    let idle = 0;
    for (const slot of this.#workers) if (slot.isReady && slot.inflight.length === 0) idle++;
    return {
      size: this.#workers.length,
      busy: this.#busy,
      idle,
      queued: this.#queue.length,
      completed: this.#completed,
      failed: this.#failed,
    };
  }

  /** The one call path under `run`, `tasks.x` and `@blocking` (which names `Class#method`). */
  async [dispatch](name: string, args: unknown[], options?: RunOptions): Promise<unknown> {
    const outcome = await this.#enqueue(name, args, options);
    if (outcome instanceof Failure) throw outcome.toError(callerFrames());
    return outcome;
  }

  // --- admission -------------------------------------------------------------------------

  /** Queues a task; resolves with its value or a `Failure`. Throws when admission refuses. */
  #enqueue(name: string, args: unknown[], options: RunOptions | undefined): Promise<unknown> {
    if (this.#state !== 'open') throw new ClosedError(this.#state === 'closing' ? 'The pool is closing' : undefined);
    if (typeof name !== 'string') throw new TypeError(`The task name must be a string (got ${typeof name})`);
    if (!Array.isArray(args)) throw new TypeError(`The arguments of "${name}" must be an array`);
    if (this.#loadFailure !== undefined) this.#checkLoadFailure();
    const free = this.options.size - this.#busy;
    if (this.#queue.length >= this.options.maxQueue + free) {
      throw new QueueFullError(this.options.maxQueue, this.#retryAfter());
    }
    const transfer = takeMarked(args, options?.transfer ? [...options.transfer] : undefined);
    return new Promise((settle) => {
      this.#queue.push(new Task(++this.#nextTaskId, name, args, transfer, settle));
      this.#scheduleDispatch();
    });
  }

  /** Dispatch waits for the end of the current tick, so a burst of calls shares messages. */
  #scheduleDispatch(): void {
    if (!this.#isFlushScheduled) {
      this.#isFlushScheduled = true;
      queueMicrotask(this.#flush);
    }
  }

  #checkLoadFailure(): void {
    const failure = this.#loadFailure!;
    if (performance.now() < failure.until) throw new TaskModuleError(this.moduleUrl, failure.cause);
    this.#loadFailure = undefined;
  }

  #retryAfter(): number {
    const perTask = Number.isNaN(this.#runTimeMs) ? 1 : this.#runTimeMs;
    return Math.max(1, Math.ceil((perTask * (this.#queue.length + 1)) / this.options.size));
  }

  // --- dispatch --------------------------------------------------------------------------

  #dispatchQueued(): void {
    this.#isFlushScheduled = false;
    if (this.#queue.length === 0) return;
    let idle = 0;
    let starting = 0;
    for (const slot of this.#workers) {
      if (!slot.isReady) starting++;
      else if (!slot.isRetiring && slot.inflight.length === 0) idle++;
    }
    const spare = this.options.size - this.#workers.length;
    if (this.#depth === 1 || this.#queue.length <= idle + starting + spare) {
      // No backlog beyond what free workers can take: one task each, however fast tasks have
      // been, so a slow task never waits behind another while a worker could run it.
      this.#assign(1, true);
    } else {
      // A backlog: fill idle workers first, then top up every pipeline to `depth`.
      this.#assign(this.#depth, true);
      if (this.#queue.length > 0) this.#assign(this.#depth, false);
    }
    if (this.#queue.length > 0) this.#grow();
  }

  #assign(depth: number, idleOnly: boolean): void {
    let candidates = 0;
    for (const slot of this.#workers) if (this.#canTake(slot, depth, idleOnly)) candidates++;
    for (const slot of this.#workers) {
      if (candidates === 0 || this.#queue.length === 0) return;
      if (!this.#canTake(slot, depth, idleOnly)) continue;
      const room = depth - slot.inflight.length;
      this.#send(slot, Math.min(room, Math.ceil(this.#queue.length / candidates--)));
    }
  }

  #canTake(slot: WorkerSlot, depth: number, idleOnly: boolean): boolean {
    const load = slot.inflight.length;
    return slot.isReady && !slot.isRetiring && (idleOnly ? load === 0 : load < depth);
  }

  #send(slot: WorkerSlot, count: number): void {
    const message: unknown[] = [ToWorker.Run];
    const tasks: Task[] = [];
    let transfer: TransferListItem[] | undefined;
    for (let i = 0; i < count; i++) {
      const task = this.#queue.shift()!;
      tasks.push(task);
      message.push(task.id, task.name, task.args);
      if (task.transfer !== undefined) (transfer ??= []).push(...task.transfer);
    }
    try {
      slot.handle.post(message as [typeof ToWorker.Run], transfer ?? NO_TRANSFER);
    } catch {
      this.#sendEachAlone(slot, tasks);
      // Refused tasks left room on this worker that the current pass will not revisit.
      if (this.#queue.length > 0) this.#scheduleDispatch();
      return;
    }
    if (slot.inflight.length === 0) this.#markBusy(slot);
    for (const task of tasks) slot.inflight.push(task);
  }

  /** A batch could not be serialised: send each task alone and fail only the culprits. */
  #sendEachAlone(slot: WorkerSlot, tasks: Task[]): void {
    for (const task of tasks) {
      try {
        slot.handle.post([ToWorker.Run, task.id, task.name, task.args], task.transfer ?? NO_TRANSFER);
      } catch (error) {
        // An executor may name the path itself: a child process refuses shared memory, which
        // structured clone within a process accepts.
        const refusal =
          error instanceof NotCloneableError ? error : new NotCloneableError(findUncloneablePath(task.args, 'args') ?? 'args', error);
        this.#fail(task, refusal);
        continue;
      }
      if (slot.inflight.length === 0) this.#markBusy(slot);
      slot.inflight.push(task);
    }
  }

  #markBusy(slot: WorkerSlot): void {
    this.#busy++;
    slot.handle.ref();
  }

  #markIdle(slot: WorkerSlot): void {
    this.#busy--;
    // An idle worker must not keep the process alive: a forgotten pool never hangs an exit.
    slot.handle.unref();
  }

  /** Starts workers for the backlog, up to `size`. */
  #grow(): void {
    if (this.#loadFailure !== undefined || this.#state === 'closed') return;
    let starting = 0;
    for (const slot of this.#workers) if (!slot.isReady) starting++;
    const wanted = Math.ceil(this.#queue.length / this.#depth) - starting;
    const room = this.options.size - this.#workers.length;
    for (let i = Math.min(wanted, room); i > 0; i--) this.#spawn();
  }

  #spawn(): void {
    const slot = new WorkerSlot(++this.#nextWorkerId);
    slot.handle = this.#executor.spawn(
      { moduleUrl: this.moduleUrl, poolName: this.options.name, workerId: slot.id },
      {
        message: (message) => this.#onMessage(slot, message),
        exit: (exit) => this.#onExit(slot, exit),
      },
    );
    this.#workers.push(slot);
  }

  // --- worker events ---------------------------------------------------------------------

  #onMessage(slot: WorkerSlot, message: WorkerMessage): void {
    switch (message[0]) {
      case FromWorker.Results:
        this.#onResults(slot, message);
        break;
      case FromWorker.Ready:
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
    this.#observeRunTime((message[1] as number) / count);
    for (let i = 2; i < message.length; i += 3) {
      const task = slot.inflight.shift();
      if (task === undefined || task.id !== message[i]) {
        // The in-order invariant broke: nothing this worker says can be trusted any more.
        slot.handle.terminate();
        return;
      }
      if (message[i + 1] === Status.Ok) {
        this.#completed++;
        task.settle(message[i + 2]);
      } else {
        this.#failed++;
        task.settle(new Failure(message[i + 2] as EncodedError));
      }
    }
    if (slot.inflight.length === 0) this.#markIdle(slot);
    if (this.#queue.length > 0) this.#dispatchQueued();
    else if (this.#state !== 'open') this.#closeIdleWorkers();
  }

  #observeRunTime(ms: number): void {
    this.#runTimeMs = Number.isNaN(this.#runTimeMs) ? ms : this.#runTimeMs * 0.8 + ms * 0.2;
    this.#depth = Math.max(1, Math.min(MAX_DEPTH, Math.floor(PIPELINE_MS / this.#runTimeMs)));
  }

  #onReady(slot: WorkerSlot): void {
    slot.isReady = true;
    this.#loadRetryMs = LOAD_RETRY_MS;
    slot.handle.unref();
    this.#notifyReady();
    if (this.#queue.length > 0) this.#dispatchQueued();
    else if (this.#state !== 'open') this.#closeIdleWorkers();
  }

  #onLoadFailed(slot: WorkerSlot, cause: unknown): void {
    slot.isRetiring = true;
    slot.handle.terminate();
    // Fail fast, then let a later call try again after a growing pause: no respawn loop.
    this.#loadFailure = { cause, until: performance.now() + this.#loadRetryMs };
    this.#loadRetryMs = Math.min(this.#loadRetryMs * 2, LOAD_RETRY_MAX_MS);
    for (const task of this.#queue.drain()) this.#fail(task, new TaskModuleError(this.moduleUrl, cause));
    this.#notifyReady();
  }

  #notifyReady(): void {
    if (this.#whenReady.length === 0) return;
    const waiting = this.#whenReady;
    this.#whenReady = [];
    for (const check of waiting) check();
  }

  #onExit(slot: WorkerSlot, exit: WorkerExit): void {
    this.#workers.splice(this.#workers.indexOf(slot), 1);
    if (slot.inflight.length > 0) {
      this.#busy--;
      for (const task of slot.inflight.drain()) this.#fail(task, new WorkerExitedError(exit, exit.error));
    }
    if (!slot.isReady && !slot.isRetiring) {
      this.#onLoadFailed(slot, exit.error ?? new WorkerExitedError(exit));
    }
    if (this.#queue.length > 0) this.#dispatchQueued();
    if (this.#workers.length === 0) {
      const waiting = this.#whenEmpty;
      this.#whenEmpty = [];
      for (const resolve of waiting) resolve();
    } else if (this.#state !== 'open') {
      this.#closeIdleWorkers();
    }
  }

  #fail(task: Task, error: unknown): void {
    this.#failed++;
    task.settle(new Failure(undefined, error));
  }

  // --- shutdown --------------------------------------------------------------------------

  /** While closing: once nothing waits, ask each idle worker to run `teardown` and leave. */
  #closeIdleWorkers(): void {
    if (this.#state === 'open' || this.#queue.length > 0) return;
    for (const slot of this.#workers) {
      if (slot.isReady && !slot.isRetiring && slot.inflight.length === 0) {
        slot.isRetiring = true;
        slot.handle.ref();
        slot.handle.post([ToWorker.Close], NO_TRANSFER);
      }
    }
  }

  #whenNoWorkers(): Promise<void> {
    if (this.#workers.length === 0) return Promise.resolve();
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
    `The task module must be a file URL or an absolute path, such as new URL('./tasks.js', import.meta.url) (got ${String(moduleUrl)})`,
  );
}

function createHandles<M extends object>(pool: Pool<M>): TaskHandles<M> {
  const handles = new Map<string, (...args: unknown[]) => Promise<unknown>>();
  return new Proxy(Object.create(null) as TaskHandles<M>, {
    get(_, name) {
      // `then` would make the handle object look like a promise to `await`.
      if (typeof name !== 'string' || name === 'then') return undefined;
      let handle = handles.get(name);
      if (handle === undefined) {
        const untyped = pool as unknown as Pool<UntypedTasks>;
        handle = (...args: unknown[]) => untyped.run(name, args);
        handles.set(name, handle);
      }
      return handle;
    },
  });
}

/** The caller's frames (sync and async), to append to errors that come back from a worker. */
function callerFrames(): string {
  const holder: { stack?: string } = {};
  Error.captureStackTrace(holder, callerFrames);
  const stack = holder.stack ?? '';
  return stack.slice(stack.indexOf('\n') + 1);
}

/** Node's convention reads a falsy error as success, so a task that threw `null` is wrapped. */
function callbackError(error: unknown): unknown {
  if (error) return error;
  return Object.assign(new Error(`The task threw ${String(error)}`), { thrown: error });
}

function deliver<R>(callback: TaskCallback<R>, error: unknown, result?: R): void {
  try {
    if (error === null) callback(null, result);
    else callback(error);
  } catch (thrown) {
    // A throwing callback must surface as an uncaught exception, as in any Node callback API,
    // and must never lead to a second call.
    process.nextTick(() => {
      throw thrown;
    });
  }
}
