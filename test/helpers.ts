import { createPool, type PoolOptions } from '../src/index.js';

/** The executors the shared behaviour suites run against. */
export const executors = ['thread', 'process'] as const satisfies ReadonlyArray<NonNullable<PoolOptions['executor']>>;
export type ExecutorName = (typeof executors)[number];

export function fixture(name: string): URL {
  return new URL(`./fixtures/${name}`, import.meta.url);
}

/** A pool on a fixture module, typed by the caller. */
export function poolFor<M extends object>(name: string, executor: ExecutorName, options: PoolOptions = {}) {
  return createPool<M>(fixture(name), { executor, ...options });
}

/** Rejects with what `promise` rejected with, failing when it resolved. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection, got a value');
}
