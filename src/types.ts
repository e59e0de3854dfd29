/**
 * Types derived from a task module's own signatures, so `tsc` checks task names, arguments and
 * results at every call site.
 */

/** Any function, for constraints only: never appears in what callers see. */
type AnyFunction = (...args: never[]) => unknown;

/** The exported functions of a task module that are tasks (`teardown` is not). */
export type TaskName<M> = {
  [K in keyof M]: K extends 'teardown' ? never : M[K] extends AnyFunction ? K : never;
}[keyof M] &
  string;

/** What a generator or async generator function's call returns. */
type AnyGenerator = Generator<unknown, unknown, never> | AsyncGenerator<unknown, unknown, never>;

/** How a task is called: `stream` for generator functions, `either` when its type is unknown. */
type TaskKind<F> = F extends (...args: never[]) => infer R
  ? [R] extends [never]
    ? 'call'
    : unknown extends R
      ? 'either'
      : [R] extends [AnyGenerator]
        ? 'stream'
        : 'call'
  : never;

type NamesOfKind<M, Wanted> = { [K in TaskName<M>]: TaskKind<M[K]> extends Wanted ? K : never }[TaskName<M>];

/** Tasks that are generator functions: they stream (`pool.stream`, or the handle as an AsyncIterable). */
export type StreamTaskName<M> = NamesOfKind<M, 'stream' | 'either'>;

/** Tasks that return one value (`pool.run`, `pool.submit`, the handle as a Promise). */
export type CallTaskName<M> = NamesOfKind<M, 'call' | 'either'>;

/** The type a generator task yields. */
export type StreamItem<M, K extends keyof M> = M[K] extends (...args: never[]) => infer G
  ? unknown extends G
    ? unknown
    : G extends Generator<infer Y, unknown, never> | AsyncGenerator<infer Y, unknown, never>
      ? Y
      : never
  : never;

export type TaskArgs<M, K extends keyof M> = M[K] extends (...args: infer A) => unknown ? A : never;

export type TaskResult<M, K extends keyof M> = M[K] extends (...args: never[]) => infer R ? Awaited<R> : never;

/** A task module seen without its type: any name, unknown arguments and result. */
export type UntypedTasks = Record<string, (...args: unknown[]) => unknown>;

/** Node-style callback of `pool.submit`. */
export type TaskCallback<R> = (error: unknown, result?: R) => void;
