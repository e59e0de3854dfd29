/**
 * The task loop inside a worker, whatever carries its messages (a thread's port, a child
 * process's IPC channel). Loads the task module once, runs tasks one at a time in arrival order,
 * and sends results back batched: every task of one incoming batch that finishes synchronously
 * shares one outgoing message. With `concurrentTasksPerWorker` above 1, async tasks overlap
 * instead: up to that many run at once, started in arrival order, each answered when it settles.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { TransferListItem } from 'node:worker_threads';
import { AbortError, NotCloneableError, UnknownTaskError } from '../errors.js';
import { findUncloneablePath } from '../protocol/clone-path.js';
import { encodeError, encodeOwnError, encodeThrownByTask, type EncodedError } from '../protocol/error-codec.js';
import {
  FromWorker,
  METHOD_SEPARATOR,
  Status,
  ToWorker,
  splitAddress,
  type MainMessage,
  type WorkerInit,
  type WorkerMessage,
} from '../protocol/messages.js';
import { hasMarks, takeMarked } from '../transfer.js';
import { isFlagged } from '../protocol/cancel-flag.js';
import { claim, isHandedAhead, isOffered } from '../protocol/claim-cell.js';
import { runCarried } from '../tracing/restore.js';
import { cancelCurrent, createWorkerState, isBlockingMethod, type TaskContext, type WorkerState } from './context.js';
import { memoryInUseMb } from './memory.js';
import { EarlyCancels } from './early-cancels.js';
import { lowerOwnPriority } from './priority.js';
import { now } from '../clock.js';
import { ProgressReporter } from './progress.js';
import { isIterator, pump, StreamControl } from './stream.js';
import { quoted } from '../quoted.js';
import { url } from '../builtins.js';

export interface WorkerPort {
  post(message: WorkerMessage, transfer?: TransferListItem[]): void;
  onMessage(handler: (message: MainMessage) => void): void;
  /**
   * Takes a message already waiting, synchronously, or `undefined`; where the carrier can (a
   * thread's port). Between two slow synchronous tasks it spares the next one the event's dispatch.
   */
  receive?(): MainMessage | undefined;
  /**
   * Resolves once what the worker's tasks printed has left it, where the carrier holds it back
   * (a thread's stdio is a stream to the main thread): the pool ends the worker on `Closed`.
   */
  flushOutput?(): Promise<void>;
}

/**
 * Most tasks handed ahead run back to back from the port without a turn of the event loop, as
 * Node itself dispatches up to 1,000 waiting messages before it lets timers and I/O run.
 */
const MAX_TAKEN_AT_ONCE = 1_000;

/**
 * Within a batch, the longest a worker with `maxWorkerMemoryMb` runs tasks between two looks at
 * its memory: a look costs a process about 15 µs (its resident set) and a thread about 2, so
 * tiny tasks are looked at together, and any task that ran this long is looked at on its own.
 */
const MEMORY_CHECK_MS = 0.25;

type Callable = (...args: unknown[]) => unknown;

/**
 * How the task loop's frames name its files: by URL (an ES module), by path (as tsx's source maps
 * show it), or by the path of the source a bundled entry maps back to (`dist/worker/*.mjs` to
 * `src/worker/runtime.ts`, under `--enable-source-maps`). Its files are this one and the stream
 * pump a generator task runs under (`stream.ts`) only: the helpers task code calls
 * (`throwIfCancelled()`...) sit beside them in `src/worker/`, and their frames are the task's.
 */
let taskLoopFile: string[] | undefined;

const LOOP_SOURCES = ['runtime.ts', 'stream.ts'];

/** Only once a task throws: `import.meta` and `node:url` would cost every starting worker tenths of a millisecond. */
function locateTaskLoop(): string[] {
  const here = import.meta.url;
  const names = [here];
  try {
    // Beside this file when it runs from source; under src/worker/ when a bundle maps back to it.
    const files = [here, ...LOOP_SOURCES.flatMap((source) => [`./${source}`, `../../src/worker/${source}`].map((path) => new URL(path, here).href))];
    for (const file of files) {
      if (file !== here) names.push(file);
      // Task code may have replaced the built-in by then: the URLs alone still find the frames.
      const path: unknown = url().fileURLToPath(file);
      if (typeof path === 'string' && path !== '') names.push(path);
    }
  } catch {
    // As above.
  }
  return names;
}

const FRAME = /^\s+at /;

/** Lines in `text` up to `end`: the index of the line after the one `end` falls on. */
function countLines(text: string, end: number): number {
  let lines = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < end; i = text.indexOf('\n', i + 1)) lines++;
  return lines;
}

/** Encodes a task's error without the task loop's own frames (and Node's below them), which only add noise. */
function encodeTaskError(error: unknown): EncodedError {
  // Task code can build offload's error classes in its own worker: what it throws is its own.
  const encoded = encodeThrownByTask(error);
  if (encoded.kind === 'error' && encoded.stack !== undefined) {
    const lines = encoded.stack.split('\n');
    const names = (taskLoopFile ??= locateTaskLoop());
    // Frames only, after the message: its own lines may name this file too, even as a frame (a
    // stack it quotes, "Caused by: ...").
    const at = encoded.stack.indexOf(encoded.message);
    const framesFrom = at === -1 ? 1 : countLines(encoded.stack, at + encoded.message.length);
    let first = -1;
    for (let i = framesFrom; i < lines.length && first === -1; i++) {
      const line = lines[i]!;
      if (FRAME.test(line) && names.some((name) => line.includes(name))) first = i;
    }
    if (first > 0) encoded.stack = lines.slice(0, first).join('\n');
  }
  return encoded;
}
interface Resolved {
  fn: Callable;
  self: unknown;
}

export async function runWorker(port: WorkerPort, init: WorkerInit): Promise<void> {
  const state = createWorkerState(init);
  // Before the module loads, so that its own start-up work runs at the lower priority too.
  if (init.niceIncrement !== undefined) lowerOwnPriority(init.niceIncrement);
  let taskModule: Record<string, unknown>;
  try {
    // Unwrapped only here: a namespace with `then` must never pass through a promise.
    taskModule = (await importModule(init.moduleUrl)).module;
  } catch (error) {
    port.post([FromWorker.LoadFailed, encodeThrownByTask(error)]);
    return;
  }
  new TaskLoop(port, taskModule, state, init.claimCell, init.maxMemoryMb, init.concurrency ?? 1).start();
}

class TaskLoop {
  readonly #port: WorkerPort;
  readonly #module: Record<string, unknown>;
  readonly #resolved = new Map<string, Resolved>();
  readonly #instances = new Map<Function, unknown>();
  readonly #inbox: unknown[][] = [];
  readonly #state: WorkerState;
  /** Cancelled tasks not started yet: skipped when reached. */
  readonly #skip = new EarlyCancels();
  /** The batch of tasks being run, until it ends: its tasks not reached yet may be cancelled. */
  #batch: unknown[] | undefined;
  /** Results of the batch in progress, not sent yet. */
  #unsent: unknown[] | undefined;
  readonly #progress: ProgressReporter;
  /** The stream running now, if the running task is a generator. */
  #stream: StreamControl | undefined;
  #isRunning = false;
  #isCloseRequested = false;
  /** Where this thread claims a task the pool handed it ahead (threads, one task at a time only). */
  readonly #claimCell: Int32Array | undefined;
  readonly #maxMemoryMb: number | undefined;
  #isOverMemory = false;
  /** When the worker last looked at its memory (see `MEMORY_CHECK_MS`). */
  #memoryCheckedAt = 0;
  /** Most async tasks running at once; above 1, tasks run through `#pump` instead of `#drain`. */
  readonly #concurrency: number;
  /** Concurrent mode: tasks received and not started, as `[id, name, args]` or `{ stream: message }`. */
  readonly #waiting: Array<unknown[] | { stream: unknown[] }> = [];
  /** Concurrent mode: the async tasks running now, by id. */
  readonly #running = new Map<number, TaskContext>();
  readonly #contexts: AsyncLocalStorage<TaskContext> | undefined;

  constructor(
    port: WorkerPort,
    taskModule: Record<string, unknown>,
    state: WorkerState,
    claimCell: Int32Array | undefined,
    maxMemoryMb: number | undefined,
    concurrency: number,
  ) {
    this.#port = port;
    this.#claimCell = claimCell;
    this.#maxMemoryMb = maxMemoryMb;
    this.#concurrency = concurrency;
    if (concurrency > 1) {
      // Only here: async context tracking has a cost on every promise of the worker.
      const contexts = new AsyncLocalStorage<TaskContext>();
      this.#contexts = contexts;
      state.contextOf = () => contexts.getStore();
    }
    this.#module = taskModule;
    this.#state = state;
    this.#progress = new ProgressReporter((message) => port.post(message));
    state.reportProgress = (taskId, value) => this.#progress.report(taskId, value);
  }

  start(): void {
    this.#port.onMessage((message) => this.#receive(message));
    // A task that calls process.exit() mid-batch must not take the finished tasks' results
    // with it: their callers would see a crash they had nothing to do with.
    process.once('exit', () => {
      if (this.#unsent !== undefined) this.#send(this.#unsent);
    });
    // With a memory limit, what the worker counts before its first task: a limit below it would
    // replace every worker after each task, which the pool warns of.
    if (this.#maxMemoryMb === undefined) this.#port.post([FromWorker.Ready, this.#generatorTasks()]);
    else this.#port.post([FromWorker.Ready, this.#generatorTasks(), memoryInUseMb()]);
  }

  #generatorTasks(): string[] {
    return this.#taskNames().filter((name) => {
      const kind = (this.#module[name] as Function).constructor.name;
      return kind === 'GeneratorFunction' || kind === 'AsyncGeneratorFunction';
    });
  }

  #receive(message: MainMessage): void {
    if (this.#concurrency > 1 && (message[0] === ToWorker.Run || message[0] === ToWorker.Stream)) {
      if (message[0] === ToWorker.Stream) this.#waiting.push({ stream: message });
      else for (let i = 1; i < message.length; i += 3) this.#waiting.push([message[i], message[i + 1], message[i + 2]]);
      this.#pump();
    } else if (message[0] === ToWorker.Run) {
      if (this.#isRunning) this.#inbox.push(message);
      else this.#runNow(message);
    } else if (message[0] === ToWorker.Stream) {
      if (this.#isRunning) this.#inbox.push(message);
      else void this.#drain(message);
    } else if (message[0] === ToWorker.Pull) {
      if (message[1] === this.#state.taskId) this.#stream?.grant(message[2]);
    } else if (message[0] === ToWorker.Cancel) {
      const concurrent = this.#running.get(message[1]);
      if (concurrent !== undefined) {
        cancelCurrent(concurrent);
      } else if (message[1] === this.#state.taskId) {
        cancelCurrent(this.#state);
        this.#stream?.wake();
      } else {
        this.#skip.add(message[1], this.#waitingIds);
      }
    } else if (message[0] === ToWorker.Close) {
      this.#isCloseRequested = true;
      if (this.#isIdle()) void this.#close();
    }
  }

  #isIdle(): boolean {
    return !this.#isRunning && this.#running.size === 0 && this.#waiting.length === 0;
  }

  // --- concurrent mode -------------------------------------------------------------------

  /** Starts waiting tasks while fewer than `concurrency` run; results of synchronous ones share a message. */
  #pump(): void {
    if (this.#isRunning) return; // a stream holds the worker, or a pump is on the stack
    const out: unknown[] = [FromWorker.Results, 0];
    this.#unsent = out;
    const began = now();
    let keepsTheRest = false;
    for (let started = 0; this.#running.size < this.#concurrency && this.#waiting.length > 0; started++) {
      if (this.#maxMemoryMb !== undefined) {
        if (started > 0) this.#checkMemoryMidway(this.#maxMemoryMb);
        if (this.#isOverMemory && !keepsTheRest) {
          this.#giveBackWaiting();
          keepsTheRest = true;
          if (this.#waiting.length === 0) break;
        }
      }
      const next = this.#waiting[0]!;
      if (!Array.isArray(next)) {
        // A stream holds its worker alone, as without concurrency.
        if (this.#running.size > 0) break;
        this.#waiting.shift();
        this.#sendPumped(out, began);
        void this.#streamAlone(next.stream);
        return;
      }
      this.#waiting.shift();
      this.#start(next[0] as number, next[1], next[2] as unknown[], out);
    }
    this.#sendPumped(out, began);
    if (this.#isCloseRequested && this.#isIdle()) void this.#close();
  }

  #sendPumped(out: unknown[], began: number): void {
    this.#progress.flush();
    out[1] = now() - began;
    this.#unsent = undefined;
    this.#send(out);
  }

  /** Starts one task in its own context; an async one is answered on its own when it settles. */
  #start(id: number, address: unknown, args: unknown[], out: unknown[]): void {
    if (this.#wasCancelled(id)) {
      out.push(id, Status.Failed, encodeError(new AbortError('cancelled before it started')));
      return;
    }
    const context: TaskContext = { taskId: id, cancelled: false, controller: undefined };
    const [name, carried] = splitAddress(address);
    const began = now();
    let value: unknown;
    try {
      const task = this.#resolve(name);
      const call = (): unknown => task.fn.apply(task.self, args);
      value = this.#contexts!.run(context, carried === undefined ? call : () => runCarried(carried, call));
    } catch (error) {
      out.push(id, Status.Failed, encodeTaskError(error));
      return;
    }
    let kind: ReturnKind;
    try {
      kind = returnKind(value);
      if (kind === ReturnKind.Thenable) {
        (value as PromiseLike<unknown>).then(
          (result) => this.#settled(id, began, Status.Ok, result),
          (error: unknown) => this.#settled(id, began, Status.Failed, encodeTaskError(error)),
        );
        this.#running.set(id, context);
        return;
      }
    } catch (error) {
      out.push(id, Status.Failed, encodeTaskError(error));
      return;
    }
    if (kind === ReturnKind.Iterator) {
      out.push(id, Status.Failed, notACallTask(name, value));
      return;
    }
    out.push(id, Status.Ok, value);
  }

  #settled(id: number, began: number, status: number, value: unknown): void {
    this.#running.delete(id);
    this.#progress.flush();
    this.#send([FromWorker.Results, now() - began, id, status, value]);
    this.#pump();
  }

  async #streamAlone(message: unknown[]): Promise<void> {
    this.#isRunning = true;
    await this.#runStream(message);
    this.#isRunning = false;
    this.#pump();
  }

  /**
   * Runs a batch that arrived while the worker was idle. Synchronous tasks (the common case)
   * finish here without the promise and the await of `#drain`: the round trip's floor.
   */
  #runNow(batch: unknown[]): void {
    this.#isRunning = true;
    let next: MainMessage | undefined = batch as MainMessage;
    for (let taken = 0; next !== undefined; next = ++taken < MAX_TAKEN_AT_ONCE ? this.#takeHandedAhead() : undefined) {
      if (next[0] !== ToWorker.Run) {
        // Anything else (a cancel, a stream, a close) is handled as its event would have been.
        this.#isRunning = false;
        this.#receive(next);
        return;
      }
      const pending = this.#runBatch(next, 1);
      if (pending !== undefined) {
        void this.#drain(undefined, pending);
        return;
      }
    }
    this.#isRunning = false;
    if (this.#isCloseRequested) void this.#close();
  }

  /**
   * The message of the task the pool handed ahead, when one is offered and already waiting in the
   * port. Only then: tiny tasks in pipelined batches measured faster through their events.
   */
  #takeHandedAhead(): MainMessage | undefined {
    return this.#claimCell !== undefined && isOffered(this.#claimCell) ? this.#port.receive?.() : undefined;
  }

  /** Runs `first` (or waits for `pending`, a batch already started), then what queued meanwhile. */
  async #drain(first: unknown[] | undefined, pending?: Promise<void>): Promise<void> {
    this.#isRunning = true;
    if (pending !== undefined) await pending;
    let batch: unknown[] | undefined = first ?? this.#inbox.shift();
    while (batch !== undefined) {
      const running = batch[0] === ToWorker.Stream ? this.#startStream(batch) : this.#runBatch(batch, 1);
      if (running !== undefined) await running;
      batch = this.#inbox.shift();
    }
    this.#isRunning = false;
    if (this.#isCloseRequested) await this.#close();
  }

  /** Runs tasks from `start`; returns a promise only when a task turned out to be async. */
  #runBatch(batch: unknown[], start: number): Promise<void> | undefined {
    this.#batch = batch;
    const out: unknown[] = [FromWorker.Results, 0];
    const state = this.#state;
    this.#unsent = out;
    const began = now();
    let keepsTheRest = false;
    for (let i = start; i < batch.length; i += 3) {
      const id = batch[i] as number;
      // One field read per task when no memory limit is set: this loop is every task's path.
      if (this.#maxMemoryMb !== undefined) {
        if (i > start) this.#checkMemoryMidway(this.#maxMemoryMb);
        if (this.#isOverMemory && !keepsTheRest) {
          // What has not started goes to a fresh worker, unless it cannot travel back.
          if (this.#giveBack(batch, i)) break;
          keepsTheRest = true;
        }
      }
      if (this.#claimCell !== undefined) {
        // Past the memory limit, a task handed ahead is left for the pool to take back (it heard
        // `OverMemory` before this worker's last result) and run on a fresh worker.
        if (this.#isOverMemory && isHandedAhead(this.#claimCell, id)) continue;
        // Taken back by the pool before it started: the pool has already requeued or settled it.
        if (!claim(this.#claimCell, id)) continue;
      }
      if (this.#wasCancelled(id)) {
        out.push(id, Status.Failed, encodeError(new AbortError('cancelled before it started')));
        continue;
      }
      state.taskId = id;
      state.cancelled = false;
      state.controller = undefined;
      // Read in place rather than through `splitAddress`: no tuple per task.
      const address = batch[i + 1];
      const name = (typeof address === 'string' ? address : splitAddress(address)[0]) as string;
      let task: Resolved;
      try {
        task = this.#resolve(name);
      } catch (error) {
        out.push(id, Status.Failed, encodeOwnError(error as Error));
        continue;
      }
      let value: unknown;
      try {
        const args = batch[i + 2] as unknown[];
        value =
          typeof address === 'string' ? task.fn.apply(task.self, args) : runCarried(splitAddress(address)[1], () => task.fn.apply(task.self, args));
      } catch (error) {
        out.push(id, Status.Failed, encodeTaskError(error));
        continue;
      }
      let kind: ReturnKind;
      try {
        kind = returnKind(value);
      } catch (error) {
        out.push(id, Status.Failed, encodeTaskError(error));
        continue;
      }
      if (kind === ReturnKind.Thenable) {
        out[1] = now() - began;
        this.#progress.flush();
        this.#unsent = undefined;
        this.#send(out);
        return this.#finishAsync(batch, i, value as PromiseLike<unknown>);
      }
      if (kind === ReturnKind.Iterator) {
        out.push(id, Status.Failed, notACallTask(name, value));
        continue;
      }
      out.push(id, Status.Ok, value);
    }
    this.#progress.flush();
    out[1] = now() - began;
    this.#unsent = undefined;
    this.#batch = undefined;
    state.taskId = -1;
    this.#send(out);
    return undefined;
  }

  async #finishAsync(batch: unknown[], index: number, pending: PromiseLike<unknown>): Promise<void> {
    const began = now();
    let out: unknown[];
    try {
      const value = await pending;
      out = [FromWorker.Results, now() - began, batch[index], Status.Ok, value];
    } catch (error) {
      out = [FromWorker.Results, now() - began, batch[index], Status.Failed, encodeTaskError(error)];
    }
    this.#progress.flush();
    this.#send(out);
    const rest = this.#runBatch(batch, index + 3);
    if (rest !== undefined) await rest;
  }

  /**
   * Whether task `id` was cancelled before it started: by a message already received, or, for
   * a task later in the batch being run, through shared memory (no message gets in meanwhile).
   */
  #wasCancelled(id: number): boolean {
    if (this.#skip.take(id)) return true;
    const flag = this.#state.cancelFlag;
    return flag !== undefined && isFlagged(flag, id);
  }

  /** The tasks this worker received and has not started (and those of the batch running already run). */
  readonly #waitingIds = (): unknown[] => {
    const ids: unknown[] = [];
    const add = (message: unknown[]): void => {
      if (message[0] === ToWorker.Stream) ids.push(message[1]);
      else for (let i = 1; i < message.length; i += 3) ids.push(message[i]);
    };
    for (const message of this.#inbox) add(message);
    if (this.#batch !== undefined) add(this.#batch);
    for (const entry of this.#waiting) ids.push(Array.isArray(entry) ? entry[0] : entry.stream[1]);
    return ids;
  };

  /** Runs a generator task as a stream, unless it goes back to the pool with this worker past its memory limit. */
  #startStream(message: unknown[]): Promise<void> | undefined {
    if (this.#isOverMemory && this.#postGivenBack([FromWorker.GivenBack, message[1], message[3]])) return undefined;
    return this.#runStream(message);
  }

  /** Runs a generator task as a stream; its end (return value or error) is a results message. */
  async #runStream(message: unknown[]): Promise<void> {
    const [, id, address, args, credit] = message as [number, number, unknown, unknown[], number];
    const [name, carried] = splitAddress(address);
    const state = this.#state;
    state.taskId = id;
    state.cancelled = false;
    state.controller = undefined;
    const began = now();
    let out: unknown[];
    /** An error the runtime raised (not the generator's own): an unknown task, an item that cannot be sent. */
    let ownError: unknown;
    try {
      if (this.#wasCancelled(id)) throw new AbortError('cancelled before it started');
      let task: Resolved;
      try {
        task = this.#resolve(name);
      } catch (error) {
        ownError = error;
        throw error;
      }
      const control = new StreamControl(credit);
      this.#stream = control;
      // The generator's body runs in whoever pulls it: the whole pump runs in the carried context.
      const value = await runCarried(carried, () => {
        const iterator = task.fn.apply(task.self, args);
        if (!isIterator(iterator)) throw new TypeError(`${quoted(name)} is not a generator task, so it cannot stream: call it with run()`);
        return pump(id, iterator, control, (items, transfer) => this.#port.post(items, transfer));
      });
      out = [FromWorker.Results, now() - began, id, Status.Ok, value];
    } catch (error) {
      if (error === this.#stream?.refusal) ownError = error;
      const encoded = error === ownError ? encodeOwnError(error as Error) : encodeTaskError(error);
      out = [FromWorker.Results, now() - began, id, Status.Failed, encoded];
    }
    this.#stream = undefined;
    this.#progress.flush();
    state.taskId = -1;
    this.#send(out);
  }

  /** Sends a results message; a result that cannot be cloned becomes that task's error. */
  #send(out: unknown[]): void {
    if (out.length === 2) return;
    if (this.#maxMemoryMb !== undefined && !this.#isOverMemory) this.#checkMemory(this.#maxMemoryMb);
    const transfer = hasMarks() ? takeMarked(valuesOf(out)) : undefined;
    try {
      this.#port.post(out as WorkerMessage, transfer);
      return;
    } catch (error) {
      if (out.length === 5) {
        // The process executor names the path itself when structured clone would miss it.
        const refusal =
          error instanceof NotCloneableError ? error : new NotCloneableError(findUncloneablePath(out[4], 'result') ?? 'result', error);
        out[3] = Status.Failed;
        out[4] = encodeOwnError(refusal);
        this.#port.post(out as WorkerMessage);
        return;
      }
    }
    // Several results and one of them cannot be cloned: send each on its own to find it.
    for (let i = 2; i < out.length; i += 3) {
      const single = [FromWorker.Results, i === 2 ? out[1] : 0, out[i], out[i + 1], out[i + 2]];
      this.#send(single);
    }
  }

  /** Between two tasks of one batch: looks at memory if the last look is `MEMORY_CHECK_MS` old. */
  #checkMemoryMidway(limitMb: number): void {
    if (!this.#isOverMemory && now() - this.#memoryCheckedAt >= MEMORY_CHECK_MS) this.#checkMemory(limitMb);
  }

  /**
   * Says so once the worker is past its memory limit, before the result that follows: the pool
   * then gives it no more work and replaces it as soon as it is idle.
   */
  #checkMemory(limitMb: number): void {
    const mb = memoryInUseMb();
    this.#memoryCheckedAt = now();
    if (mb <= limitMb) return;
    this.#isOverMemory = true;
    this.#port.post([FromWorker.OverMemory, mb]);
  }

  /**
   * Past the memory limit: gives the pool back the tasks of `batch` from `start` on, none of them
   * started, with their arguments (a buffer the call moved here exists nowhere else now). A task
   * handed ahead is not among them: the pool takes it back through the claim cell. `false` when
   * an argument cannot travel back (a port, a file handle): the tasks then run here after all.
   */
  #giveBack(batch: unknown[], start: number): boolean {
    const message: unknown[] = [FromWorker.GivenBack];
    for (let i = start; i < batch.length; i += 3) {
      const id = batch[i] as number;
      if (this.#claimCell !== undefined && isHandedAhead(this.#claimCell, id)) continue;
      message.push(id, batch[i + 2]);
    }
    return this.#postGivenBack(message);
  }

  /** Concurrent mode, past the memory limit: gives back the calls and streams waiting here. */
  #giveBackWaiting(): void {
    const message: unknown[] = [FromWorker.GivenBack];
    for (const entry of this.#waiting) {
      if (Array.isArray(entry)) message.push(entry[0], entry[2]);
      else message.push(entry.stream[1], entry.stream[3]);
    }
    if (this.#postGivenBack(message)) this.#waiting.length = 0;
  }

  #postGivenBack(message: unknown[]): boolean {
    if (message.length === 1) return true;
    try {
      this.#port.post(message as WorkerMessage);
    } catch {
      return false;
    }
    // A cancel that came for one of them meanwhile is the pool's to settle now.
    for (let i = 1; i < message.length; i += 2) this.#skip.take(message[i] as number);
    return true;
  }

  #resolve(name: string): Resolved {
    const cached = this.#resolved.get(name);
    if (cached !== undefined) return cached;
    const resolved = this.#lookup(name);
    this.#resolved.set(name, resolved);
    return resolved;
  }

  /**
   * A task is an exported function other than `teardown`, or `Class#method` where `Class` is an
   * exported class and `method` one of its `@blocking` methods. Nothing else is reachable: not
   * a prototype's `constructor` or `toString`, not an undecorated method.
   */
  #lookup(name: string): Resolved {
    const separator = typeof name === 'string' ? name.indexOf(METHOD_SEPARATOR) : -1;
    if (separator === -1) {
      const fn = this.#exportedFunction(name);
      if (fn === undefined) throw new UnknownTaskError(String(name), this.#taskNames());
      return { fn: fn as Callable, self: undefined };
    }
    // `Class#method`: a @blocking method, run on this worker's own instance of the class.
    const className = name.slice(0, separator);
    const methodName = name.slice(separator + 1);
    const cls = this.#findClass(className);
    const method = cls === undefined ? undefined : blockingMethodOf(cls, methodName);
    if (cls === undefined || method === undefined) throw new UnknownTaskError(name, this.#taskNames());
    let instance = this.#instances.get(cls);
    if (instance === undefined) {
      instance = new (cls as new () => unknown)();
      this.#instances.set(cls, instance);
    }
    return { fn: method, self: instance };
  }

  #exportedFunction(key: string): Function | undefined {
    const value = key !== 'teardown' && Object.hasOwn(this.#module, key) ? this.#module[key] : undefined;
    return typeof value === 'function' ? value : undefined;
  }

  #findClass(className: string): Function | undefined {
    const byKey = this.#exportedFunction(className);
    if (byKey !== undefined) return byKey;
    for (const key of Object.keys(this.#module)) {
      const value = this.#exportedFunction(key);
      if (value?.name === className) return value;
    }
    return undefined;
  }

  #taskNames(): string[] {
    return Object.keys(this.#module).filter((key) => typeof this.#module[key] === 'function' && key !== 'teardown');
  }

  async #close(): Promise<void> {
    const teardown = this.#module.teardown;
    if (typeof teardown === 'function') {
      try {
        await teardown();
      } catch (error) {
        console.error('offload: teardown() failed:', error);
      }
    }
    await this.#port.flushOutput?.();
    this.#port.post([FromWorker.Closed]);
  }
}

/**
 * Loads the task module through a one-line module that re-exports its namespace. A namespace
 * that exports a function named `then` is a thenable: awaited or returned from an async function
 * it would be called, not delivered, so it travels inside the wrapper's namespace.
 */
async function importModule(moduleUrl: string): Promise<{ module: Record<string, unknown> }> {
  const wrapper = `export * as module from ${JSON.stringify(moduleUrl)};`;
  const wrapperUrl = `data:text/javascript,${encodeURIComponent(wrapper)}`;
  try {
    return (await import(wrapperUrl)) as { module: Record<string, unknown> };
  } catch (error) {
    // The wrapper is an implementation detail: a missing module is reported as the user's own path.
    if (error instanceof Error) {
      const importer = ` imported from ${wrapperUrl}`;
      error.message = error.message.replace(importer, '');
      if (typeof error.stack === 'string') error.stack = error.stack.replace(importer, '');
    }
    throw error;
  }
}

/** The `@blocking` method `name` of `cls`'s instances, read from its prototypes without running a getter. */
function blockingMethodOf(cls: Function, name: string): Callable | undefined {
  let prototype: unknown = (cls as { prototype?: unknown }).prototype;
  while (prototype !== null && typeof prototype === 'object' && prototype !== Object.prototype) {
    const descriptor = Object.getOwnPropertyDescriptor(prototype, name);
    if (descriptor !== undefined) return isBlockingMethod(descriptor.value) ? (descriptor.value as Callable) : undefined;
    prototype = Object.getPrototypeOf(prototype);
  }
  return undefined;
}

/** The result values in a results message, where transfer marks may sit. */
function valuesOf(out: unknown[]): unknown[] {
  const values: unknown[] = [];
  for (let i = 4; i < out.length; i += 3) values.push(out[i]);
  return values;
}

const ReturnKind = { Value: 0, Thenable: 1, Iterator: 2 } as const;
type ReturnKind = (typeof ReturnKind)[keyof typeof ReturnKind];

/**
 * How a task's return value is answered. Reading it may run the task's own code (a `then`
 * getter, a revoked proxy) and throw: callers fail that task with it, never the worker.
 */
function returnKind(value: unknown): ReturnKind {
  if (value === null || typeof value !== 'object') return ReturnKind.Value;
  if (typeof (value as PromiseLike<unknown>).then === 'function') return ReturnKind.Thenable;
  return isIterator(value) && !Array.isArray(value) ? ReturnKind.Iterator : ReturnKind.Value;
}

/** A generator task called with `run()`: its generator is closed (its `finally` runs) and the call refused. */
function notACallTask(name: string, iterator: unknown): EncodedError {
  try {
    (iterator as Iterator<unknown>).return?.(undefined);
  } catch {
    // Its own cleanup failed; the call is refused all the same.
  }
  return encodeError(new TypeError(`${quoted(name)} is a generator task: iterate it (for await ... of pool.tasks.x()) or use pool.stream()`));
}
