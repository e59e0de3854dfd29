/**
 * A pool seen from one HTTP request: the same calls as the pool, each carrying the request's
 * disconnect signal (and the adapter's default timeout), so a handler gets cancellation without
 * passing a signal by hand. Built once per request by every adapter; the signal and its listener
 * are created only when a call is made, so requests that never offload pay one small object.
 */
import type { ServerResponse } from 'node:http';
import { onAbort } from '../pool/abort-signal.js';
import { cancelHook, type CancellableOptions } from '../pool/cancel-hook.js';
import { checkRunOptions, type RunOptionsInput } from '../pool/options.js';
import type { Pool, RunOptions, StreamOptions } from '../pool/pool.js';
import type { TaskStream } from '../pool/stream.js';
import type { TaskHandles } from '../styles/handle.js';
import type { CallTaskName, StreamItem, StreamTaskName, TaskArgs, TaskCallback, TaskResult, UntypedTasks } from '../types.js';
import { disconnectSignal } from './disconnect.js';
import { FanOut } from './fan-out.js';

/** The request's signal, heard once for all its calls that have signals of their own. */
const requestAborted = new FanOut<AbortSignal>((signal, fire) => onAbort(signal, fire));

/**
 * Declares the task module of the adapters' pool, once per application, so `app.offload` and
 * `request.offload` are typed:
 *
 * ```ts
 * declare module 'offload/fastify' {      // or 'offload/express', 'offload/http'
 *   interface Register { tasks: typeof Tasks }
 * }
 * ```
 */
export interface Register {}

/** The registered task module, or `UntypedTasks` until one is registered. */
export type RegisteredTasks = Register extends { tasks: infer M extends object } ? M : UntypedTasks;

/** Defaults an adapter applies to every call made through `request.offload`. */
export interface RequestDefaults {
  /** Deadline in ms for each call, unless the call gives its own `timeout`. Default: none. */
  timeout?: number;
}

export class RequestPool<M extends object = RegisteredTasks> {
  /** The pool itself, for what is not a call (`stats()`, events). */
  readonly pool: Pool<M>;
  readonly #signal: () => AbortSignal;
  readonly #defaults: RequestDefaults;
  #tasks: TaskHandles<M> | undefined;

  constructor(pool: Pool<M>, response: ServerResponse | (() => AbortSignal), defaults: RequestDefaults = {}) {
    this.pool = pool;
    this.#defaults = defaults;
    if (typeof response === 'function') {
      this.#signal = response;
    } else {
      let signal: AbortSignal | undefined;
      this.#signal = () => (signal ??= disconnectSignal(response));
    }
  }

  /** Fires when the client disconnects before the answer: pass it to anything else cancellable. */
  get signal(): AbortSignal {
    return this.#signal();
  }

  /** Typed functions, one per task, like `pool.tasks`, cancelled when the client leaves. */
  get tasks(): TaskHandles<M> {
    return (this.#tasks ??= this.#handles());
  }

  /** `pool.run`, cancelled when the client leaves. */
  run<K extends CallTaskName<M>>(name: K, args: TaskArgs<M, K>, options?: RunOptions): Promise<TaskResult<M, K>> {
    return this.pool.run(name, args, this.#options(options));
  }

  /** `pool.stream`, ended when the client leaves. */
  stream<K extends StreamTaskName<M>>(name: K, args: TaskArgs<M, K>, options?: StreamOptions): TaskStream<StreamItem<M, K>> {
    return this.pool.stream(name, args, this.#options(options));
  }

  /** `pool.submit`, cancelled when the client leaves. */
  submit<K extends CallTaskName<M>>(name: K, args: TaskArgs<M, K>, callback: TaskCallback<TaskResult<M, K>>, options?: RunOptions): void {
    this.pool.submit(name, args, callback, this.#options(options));
  }

  /** Another pool seen from the same request (same disconnect signal): for apps with several pools. */
  of<N extends object>(pool: Pool<N>): RequestPool<N> {
    return new RequestPool(pool, this.#signal, this.#defaults);
  }

  #options<O extends RunOptions | StreamOptions>(options: O | undefined): O {
    let read: RunOptionsInput;
    try {
      // Read once and checked as the pool reads a call's options: a getter runs once, a value the
      // pool would refuse is refused, before the request's own signal is combined with it.
      read = options === undefined ? {} : checkRunOptions(options);
    } catch (error) {
      return refusedWith(error) as O;
    }
    const disconnect = this.#signal();
    const timeout = read.timeout ?? this.#defaults.timeout;
    if (read.signal === undefined || disconnect.aborted) return { ...read, signal: disconnect, timeout } as O;
    // The call's own signal stays its signal, and the request's cancels it through the pool's
    // hook: `AbortSignal.any` would do, but Node 20 keeps every combined signal for as long as
    // the caller's lives (an app-wide signal passed to each call grew the heap by 6 MB a 100,000).
    const hook = (read as CancellableOptions)[cancelHook];
    const withDisconnect: CancellableOptions = {
      [cancelHook]: (cancel) => {
        const release = hook?.(cancel);
        // Gone before this call was queued (a stream first read after the client left): refused
        // now, not on a later tick, when a dispatch may already have handed it to a worker.
        if (disconnect.aborted) {
          cancel(disconnect.reason);
          return release;
        }
        const stopWaiting = requestAborted.add(disconnect, () => cancel(disconnect.reason));
        // Settled: a request making many calls (a stream, a batch) keeps nothing of them.
        return () => {
          stopWaiting();
          release?.();
        };
      },
    };
    return { ...read, ...withDisconnect, timeout } as O;
  }

  /** The pool's own handles (they know plain from generator tasks), given this request's options. */
  #handles(): TaskHandles<M> {
    type Options = RunOptions & StreamOptions;
    const own = this.pool.tasks as unknown as Record<string, { with(options: Options): (...args: unknown[]) => unknown }>;
    const handles = new Map<string, unknown>();
    return new Proxy(Object.create(null) as TaskHandles<M>, {
      get: (_, name) => {
        // `then` would make the handle object look like a promise to `await`.
        if (typeof name !== 'string' || name === 'then') return undefined;
        let handle = handles.get(name);
        if (handle === undefined) {
          const call = (options: Options | undefined) => (...args: unknown[]) => own[name]!.with(this.#options(options))(...args);
          handle = Object.assign(call(undefined), { with: (options: Options) => call(options) });
          handles.set(name, handle);
        }
        return handle;
      },
    });
  }
}

/**
 * Options the pool refuses with `error` as it reads them: the call is then refused the way the
 * pool refuses its own (a rejected promise, the callback on a later tick, a throw from `stream`),
 * not by a throw from the request pool's method.
 */
function refusedWith(error: unknown): RunOptionsInput {
  return {
    get signal(): undefined {
      throw error;
    },
  };
}
