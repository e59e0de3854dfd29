/**
 * The caller's side of a generator task: an async iterator over the items the worker yields,
 * with credit-based backpressure. The worker may produce at most `highWaterMark` items that the
 * consumer has not taken yet; taking items grants more credit in chunks, so a slow consumer
 * makes the generator wait and memory stays flat however long the stream.
 */
import { StreamStalledError } from '../errors.js';
import { setLongTimeout } from './long-timeout.js';
import { Queue } from './queue.js';
import { Failure } from './task.js';

/** What the pool does for a stream once it has started its task. */
export interface StreamControl {
  /** Grants the worker `items` more credit. */
  pull(items: number): void;
  /** The consumer stopped early: end the generator in the worker. */
  stop(): void;
  /** The consumer took nothing for `stallTimeout` ms: fail the stream with `error`, freeing the worker. */
  stall(error: Error): void;
}

export interface StreamLimits {
  highWaterMark: number;
  /** ms the consumer may go without taking an item while the stream runs; `Infinity`: no limit. */
  stallTimeout: number;
}

interface Waiter<T> {
  resolve(result: IteratorResult<T>): void;
  reject(error: unknown): void;
}

export class TaskStream<T> implements AsyncIterableIterator<T> {
  readonly highWaterMark: number;
  readonly #stallTimeout: number;
  #clearStallTimer: (() => void) | undefined;
  readonly #start: (stream: TaskStream<T>) => StreamControl | undefined;
  #control: StreamControl | undefined;
  #isStarted = false;
  readonly #items = new Queue<T>();
  /** Credit granted and not yet used by the worker. */
  #outstanding: number;
  /** Pending `next()` calls, answered in order. */
  readonly #waiters = new Queue<Waiter<T>>();
  /** How it ended, delivered once the buffered items are taken. */
  #end: { error: unknown } | { done: true } | undefined;
  /** Why it failed, kept after the error is delivered or declined: `signal` may be read late. */
  #failure: { error: unknown } | undefined;
  #isClosed = false;
  #failed: AbortController | undefined;

  /** `start` queues the task; it returns undefined when admission refused (and `end` was called). */
  constructor(limits: StreamLimits, start: (stream: TaskStream<T>) => StreamControl | undefined) {
    this.highWaterMark = limits.highWaterMark;
    this.#stallTimeout = limits.stallTimeout;
    this.#outstanding = limits.highWaterMark;
    this.#start = start;
  }

  /**
   * Aborts, with the error as its reason, when the stream fails (stall, timeout, abort, the
   * task's error, its worker's exit). For a consumer blocked elsewhere, such as on a socket's
   * `drain`, which would otherwise learn of the failure only at its next pull:
   * `Readable.from(stream, { signal: stream.signal })`.
   */
  get signal(): AbortSignal {
    if (this.#failed === undefined) {
      this.#failed = new AbortController();
      if (this.#failure !== undefined) this.#failed.abort(this.#failure.error);
    }
    return this.#failed.signal;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<T>> {
    // Started by the first pull, so a stream nobody reads never occupies a worker.
    this.#startTask();
    this.#stopStallTimer();
    if (this.#items.length > 0) {
      const value = this.#items.shift() as T;
      this.#replenish();
      this.#startStallTimer();
      return Promise.resolve({ value, done: false });
    }
    if (this.#end !== undefined || this.#isClosed) return this.#finish();
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Called by `break`, `return` or a throw in a `for await` body: ends the generator. */
  return(): Promise<IteratorResult<T>> {
    if (!this.#isClosed) {
      this.#isClosed = true;
      this.#stopStallTimer();
      this.#items.drain();
      if (this.#end === undefined) this.#control?.stop();
      // Declined, a failure not taken yet included: from now on the consumer is only told it is done.
      this.#end = { done: true };
      for (const waiter of this.#waiters.drain()) waiter.resolve({ value: undefined, done: true });
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<T>> {
    void this.return();
    return Promise.reject(error);
  }

  /**
   * Starts the task now, not at the first pull: for a call that was queued before it became a
   * stream (the first handle call of a fresh pool), so that `return()` and `stallTimeout` reach
   * it even if it is never pulled.
   */
  startNow(): void {
    this.#startTask();
  }

  #startTask(): void {
    // Never after `return()`: a declined stream's task must not run.
    if (this.#isStarted || this.#isClosed) return;
    this.#isStarted = true;
    this.#control = this.#start(this);
  }

  // --- fed by the pool ---------------------------------------------------------------------

  push(items: readonly unknown[]): void {
    this.#outstanding -= items.length;
    if (this.#isClosed) return;
    let index = 0;
    for (; index < items.length && this.#waiters.length > 0; index++) {
      this.#waiters.shift()!.resolve({ value: items[index] as T, done: false });
    }
    for (; index < items.length; index++) this.#items.push(items[index] as T);
    this.#replenish();
    this.#startStallTimer();
  }

  /** The task settled: its return value (ignored) or a `Failure`. */
  end(outcome: unknown): void {
    if (this.#end !== undefined) return;
    this.#stopStallTimer();
    this.#end = outcome instanceof Failure ? { error: outcome.toError() } : { done: true };
    if ('error' in this.#end) {
      this.#failure = this.#end;
      this.#failed?.abort(this.#end.error);
    }
    if (this.#items.length > 0) return;
    // The first waiting `next()` gets the end (the error, if any); those after it, `done`.
    for (const waiter of this.#waiters.drain()) this.#finish().then(waiter.resolve, waiter.reject);
  }

  #finish(): Promise<IteratorResult<T>> {
    const end = this.#end;
    this.#end = { done: true };
    this.#isClosed = true;
    if (end !== undefined && 'error' in end) return Promise.reject(end.error);
    return Promise.resolve({ value: undefined, done: true });
  }

  /**
   * Starts counting how long the consumer takes nothing, unless it is waiting for an item or the
   * stream has ended (its worker is free then, whatever the consumer does).
   */
  #startStallTimer(): void {
    if (this.#stallTimeout === Infinity || this.#clearStallTimer !== undefined) return;
    if (this.#end !== undefined || this.#isClosed || this.#waiters.length > 0 || this.#control === undefined) return;
    this.#clearStallTimer = setLongTimeout(
      () => {
        this.#clearStallTimer = undefined;
        // What the consumer never took is dropped with the worker it held.
        this.#items.drain();
        this.#control?.stall(new StreamStalledError(this.#stallTimeout));
      },
      this.#stallTimeout,
      true,
    );
  }

  #stopStallTimer(): void {
    this.#clearStallTimer?.();
    this.#clearStallTimer = undefined;
  }

  /** Tops the worker's credit back up once it has fallen to half the high-water mark. */
  #replenish(): void {
    const room = this.highWaterMark - this.#outstanding - this.#items.length;
    if (this.#control !== undefined && this.#end === undefined && room >= Math.ceil(this.highWaterMark / 2)) {
      this.#outstanding += room;
      this.#control.pull(room);
    }
  }
}
