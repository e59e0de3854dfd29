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

export type TaskArgs<M, K extends keyof M> = M[K] extends (...args: infer A) => unknown ? A : never;

export type TaskResult<M, K extends keyof M> = M[K] extends (...args: never[]) => infer R ? Awaited<R> : never;

/** A task module seen without its type: any name, unknown arguments and result. */
export type UntypedTasks = Record<string, (...args: unknown[]) => unknown>;

/** Node-style callback of `pool.submit`. */
export type TaskCallback<R> = (error: unknown, result?: R) => void;
