import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createPool, type Pool, type PoolOptions, type PoolStats } from '../src/index.js';
import { remotePoolOptions, type WorkerProcess } from './remote-harness.js';
import { redisServer, registerMissing } from './requirements.js';

export type ExecutorName = NonNullable<PoolOptions['executor']>;

const ALL_EXECUTORS: readonly ExecutorName[] = ['thread', 'process', 'remote'];

/** OFFLOAD_TEST_EXECUTORS=thread,process picks the executors the shared suites run against; all by default. */
function selectedExecutors(value = process.env.OFFLOAD_TEST_EXECUTORS): readonly ExecutorName[] {
  if (value === undefined || value.trim() === '') return ALL_EXECUTORS;
  const names = value.split(',').map((name) => name.trim());
  const unknown = names.filter((name) => !ALL_EXECUTORS.includes(name as ExecutorName));
  if (unknown.length > 0) throw new Error(`OFFLOAD_TEST_EXECUTORS: unknown executor(s) ${unknown.join(', ')}; use ${ALL_EXECUTORS.join(', ')}`);
  return ALL_EXECUTORS.filter((name) => names.includes(name));
}

const selected = selectedExecutors();
const remoteMissing = selected.includes('remote') && redisServer.missing !== undefined;
let remoteSkipAnnounced = false;

/**
 * A list of executors whose iteration (`for (const executor of executors)`, as every shared suite
 * does) also registers, once per test file, the remote executor's place when redis-server is
 * missing: a skipped test saying why (a failing one under OFFLOAD_TEST_REQUIRE_ALL=1). Hooking the
 * iteration keeps files that import helpers for other things free of that line.
 */
class ExecutorList extends Array<ExecutorName> {
  static override get [Symbol.species](): ArrayConstructor {
    return Array;
  }

  override [Symbol.iterator](): ArrayIterator<ExecutorName> {
    if (remoteMissing && !remoteSkipAnnounced) {
      remoteSkipAnnounced = true;
      registerMissing(redisServer, "remote executor: this file's shared suites");
    }
    return super[Symbol.iterator]();
  }
}

/** The executors the shared behaviour suites run against: those selected, `remote` where redis-server is found. */
export const executors: readonly ExecutorName[] = ExecutorList.from(selected.filter((name) => name !== 'remote' || !remoteMissing));

/** The executors whose pools need no service: the seed's examples run with these alone. */
export const localExecutors = (): readonly ExecutorName[] => executors.filter((executor) => capabilities[executor].ownsWorkers);

/**
 * What differs between executors, where a shared test must say so. Each entry is documented in
 * the README's "Scaling out" section.
 */
export interface Capabilities {
  /**
   * The pool starts and ends its workers itself: it loads the task module (a module that fails
   * to load fails calls with ERR_OFFLOAD_TASK_MODULE), runs `teardown` on close, recycles
   * workers, and replaces one whose task ignores cancellation. A remote pool's workers are
   * other processes: they load the module before taking jobs (or refuse to start), run teardown
   * when they stop, and do the rest in their own local pools.
   */
  ownsWorkers: boolean;
  /**
   * A busy worker receives its next slow task ahead of time, while others wait, and starts it
   * without a round trip through the pool's thread (threads: the claim cell is shared memory).
   */
  handsAhead: boolean;
  /** Tasks per second the suites can afford: remote round trips go through Redis, one job per slot. */
  bulk(count: number): number;
  /**
   * A `MessagePort` (or another non-buffer transferable) in a transfer list moves to the worker.
   * Processes and remote workers take only buffers, by copy.
   */
  movesPorts: boolean;
}

export const capabilities: Record<ExecutorName, Capabilities> = {
  thread: { ownsWorkers: true, handsAhead: true, bulk: (count) => count, movesPorts: true },
  process: { ownsWorkers: true, handsAhead: false, bulk: (count) => count, movesPorts: false },
  remote: { ownsWorkers: false, handsAhead: false, bulk: (count) => Math.min(count, 1000), movesPorts: false },
};

export function fixture(name: string): URL {
  return new URL(`./fixtures/${name}`, import.meta.url);
}

/**
 * On an executor that does not start its own workers (remote), a pool option that belongs to the
 * workers is refused by name at `createPool`: registers that test and returns `true`.
 */
export function refusedOnRemote(executor: ExecutorName, options: PoolOptions, workerFlag: string): boolean {
  if (capabilities[executor].ownsWorkers) return false;
  const [name] = Object.keys(options);
  test(`is refused by name: remote workers take it (offload worker ${workerFlag})`, () => {
    assert.throws(() => createPool(fixture('scheduling.ts'), { executor, ...options }), {
      name: 'TypeError',
      message: new RegExp(`options\\.${name} does not apply to the remote executor`),
    });
  });
  return true;
}

/**
 * The options of a pool on a fixture module for an executor. For `remote`, starts a worker
 * process serving a queue of the pool's own, with the worker-side options the pool's imply.
 */
export function poolOptions(name: string, executor: ExecutorName, options: PoolOptions = {}): PoolOptions {
  return withWorker(name, executor, options).options;
}

function withWorker(name: string, executor: ExecutorName, options: PoolOptions): { options: PoolOptions; worker?: WorkerProcess } {
  if (executor !== 'remote') return { options: { executor, ...options } };
  const remote = remotePoolOptions(fixture(name), options);
  createPool(fixture(name), remote.options); // checks the options before a process starts
  return { options: remote.options, worker: remote.start() };
}

/** A pool on a fixture module, typed by the caller. A remote pool's worker process stops once the pool has closed. */
export function poolFor<M extends object>(name: string, executor: ExecutorName, options: PoolOptions = {}): Pool<M> {
  const { options: resolved, worker } = withWorker(name, executor, options);
  const pool = createPool<M>(fixture(name), resolved);
  if (worker !== undefined) {
    const close = pool.close.bind(pool);
    const destroy = pool.destroy.bind(pool);
    let closing: ReturnType<typeof close> | undefined;
    // close() may resolve while calls made in the same tick still wait for their first worker:
    // the worker process stops only once nothing is left.
    const stop = (): void => void whenIdle(pool).then(() => worker.stop());
    pool.close = (closeOptions) => (closing ??= close(closeOptions).finally(stop));
    pool.destroy = () => destroy().finally(stop);
  }
  return pool;
}

async function whenIdle(pool: { stats(): PoolStats }): Promise<void> {
  for (let waited = 0; waited < 60_000; waited += 50) {
    const { queued, busy } = pool.stats();
    if (queued === 0 && busy === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50).unref());
  }
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

/** The process warnings emitted while `run` runs, and the tick after it (Node emits them a tick late). */
export async function warningsDuring(run: () => Promise<void>): Promise<Error[]> {
  const warnings: Error[] = [];
  const listener = (warning: Error): void => void warnings.push(warning);
  process.on('warning', listener);
  try {
    await run();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', listener);
  }
  return warnings;
}

/** Every item of an async iterable, in order. */
export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}
