/**
 * `pool.tasks`: one typed function per task. A plain task's function returns a Promise; a
 * generator task's returns an async iterable of what it yields.
 *
 * Which tasks are generators is learned from the first worker that loads the module. Until then
 * (the very first calls on a fresh pool) a call is admitted and queued at once as a plain call,
 * and returns a `PendingCall`, which is both a promise and an async iterable: iterated in the
 * same tick (`for await`), the queued call becomes a stream before any worker sees it.
 */
import type { PendingTask, Pool, RunOptions, StreamOptions } from '../pool/pool.js';
import { enqueuePending, streamTaskNames } from '../pool/pool.js';
import { TaskStream } from '../pool/stream.js';
import { Failure } from '../pool/task.js';
import type { StreamItem, StreamTaskName, TaskArgs, TaskName, TaskResult, UntypedTasks } from '../types.js';
import { quoted } from '../quoted.js';

/** A typed function of `pool.tasks` for a plain task; `.with(options)` adds call options. */
export type TaskHandle<Args extends unknown[], R> = ((...args: Args) => Promise<R>) & {
  with(options: RunOptions): (...args: Args) => Promise<R>;
};

/** A typed function of `pool.tasks` for a generator task. */
export type StreamHandle<Args extends unknown[], Y> = ((...args: Args) => TaskStream<Y>) & {
  with(options: StreamOptions): (...args: Args) => TaskStream<Y>;
};

/** The typed functions of `pool.tasks`. */
export type TaskHandles<M> = {
  readonly [K in TaskName<M>]: K extends StreamTaskName<M>
    ? unknown extends StreamItem<M, K>
      ? TaskHandle<TaskArgs<M, K>, TaskResult<M, K>>
      : StreamHandle<TaskArgs<M, K>, StreamItem<M, K>>
    : TaskHandle<TaskArgs<M, K>, TaskResult<M, K>>;
};

type Untyped = Pool<UntypedTasks>;
type Options = RunOptions & StreamOptions;

export function createHandles<M extends object>(pool: Pool<M>): TaskHandles<M> {
  const untyped = pool as unknown as Untyped;
  // Weakly: a route that reads `pool.tasks[name]` with a name from its request must not grow
  // this map with every name it is sent. A handle someone holds stays the same object.
  const handles = new Map<string, WeakRef<object>>();
  const forget = new FinalizationRegistry<string>((name) => {
    if (handles.get(name)?.deref() === undefined) handles.delete(name);
  });
  return new Proxy(Object.create(null) as TaskHandles<M>, {
    get(_, name) {
      // `then` would make the handle object look like a promise to `await`.
      if (typeof name !== 'string' || name === 'then') return undefined;
      let handle = handles.get(name)?.deref();
      if (handle === undefined) {
        const call = (options: Options | undefined) => (...args: unknown[]) => callTask(untyped, name, args, options);
        handle = Object.assign(call(undefined), { with: (options: Options) => call(options) });
        handles.set(name, new WeakRef(handle));
        forget.register(handle, name);
      }
      return handle;
    },
  });
}

function callTask(pool: Untyped, name: string, args: unknown[], options: Options | undefined): unknown {
  const generators = pool[streamTaskNames];
  if (generators !== undefined) return generators.has(name) ? pool.stream(name, args, options) : pool.run(name, args, options);
  let pending: PendingTask;
  try {
    pending = pool[enqueuePending](name, args, options);
  } catch (error) {
    // Refused (closed pool, bad option, a throwing captureContext): still both shapes, so that
    // `for await` gets the refusal itself rather than "not async iterable" and a rejection nobody handles.
    pending = refused(error);
  }
  return new PendingCall(name, pending);
}

function refused(error: unknown): PendingTask {
  return {
    result: () => Promise.reject(error),
    streamInstead: () =>
      new TaskStream<unknown>({ highWaterMark: 1, stallTimeout: Infinity }, (stream) => {
        stream.end(new Failure(undefined, error));
        return undefined;
      }),
  };
}

/** A first call whose task kind is not known yet; see the module comment. */
class PendingCall<T> implements Promise<T>, AsyncIterable<unknown> {
  readonly #name: string;
  readonly #pending: PendingTask;
  #promise: Promise<T> | undefined;
  #stream: TaskStream<unknown> | undefined;

  constructor(name: string, pending: PendingTask) {
    this.#name = name;
    this.#pending = pending;
  }

  get [Symbol.toStringTag](): string {
    return 'Promise';
  }

  then<A = T, B = never>(
    onFulfilled?: ((value: T) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.#asPromise().then(onFulfilled, onRejected);
  }

  catch<B = never>(onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<T | B> {
    return this.#asPromise().catch(onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<T> {
    return this.#asPromise().finally(onFinally);
  }

  [Symbol.asyncIterator](): AsyncIterator<unknown> {
    this.#stream ??= this.#promise === undefined ? this.#pending.streamInstead() : undefined;
    if (this.#stream === undefined) {
      throw new TypeError(`This call of ${quoted(this.#name)} already runs as a plain call; iterate it in the tick it is made, or use pool.stream()`);
    }
    return this.#stream;
  }

  #asPromise(): Promise<T> {
    if (this.#stream !== undefined) {
      return Promise.reject(new TypeError(`This call of ${quoted(this.#name)} is being iterated as a stream`));
    }
    this.#promise ??= this.#pending.result() as Promise<T>;
    return this.#promise;
  }
}
