/**
 * The one interface every pool is driven through. Each adapter maps it onto its library's own
 * API and nothing more, so the harness measures the libraries, not the adapters.
 */

/** A byte buffer that can move: backed by an `ArrayBuffer`, never a `SharedArrayBuffer`. */
export type Bytes = Uint8Array<ArrayBuffer>;

export type TaskName = 'noop' | 'spin' | 'length' | 'echo' | 'sleep';

export interface PoolAdapter {
  /**
   * Runs `task` with one argument. With `moveInput`, the argument is a `Uint8Array` whose buffer
   * moves to the worker by the library's own transfer mechanism instead of being copied.
   * A thenable rather than a Promise: workerpool returns its own promise type, and wrapping it
   * would charge workerpool for the adapter.
   */
  call(task: TaskName, input?: unknown, moveInput?: boolean): PromiseLike<unknown>;
  /** Shuts down by the library's graceful API (or its only one), resolving when workers are gone. */
  close(): Promise<void>;
}

/** Creates a pool of `size` threads running the worker entry `workerFile`. */
export type StartPool = (size: number, workerFile: URL) => PoolAdapter;

/** Raw baseline first, offload next, then the peers: the order of the table's columns. */
export const POOL_NAMES = ['raw', 'offload', 'piscina', 'tinypool', 'workerpool', 'poolifier'] as const;
export type PoolName = (typeof POOL_NAMES)[number];
export const PEER_NAMES: readonly PoolName[] = ['piscina', 'tinypool', 'workerpool', 'poolifier'];

export function isPoolName(name: string): name is PoolName {
  return (POOL_NAMES as readonly string[]).includes(name);
}

/** The library's worker entry, compiled beside the adapters in bench/build/workers/. */
export function workerFileOf(pool: PoolName): URL {
  return new URL(`../workers/${pool}.js`, import.meta.url);
}

/** Loads a pool's adapter; the import (and so the library's own load time) is part of start-up. */
export async function loadAdapter(pool: PoolName): Promise<StartPool> {
  const module = (await import(`./${pool}.js`)) as { start: StartPool };
  return module.start;
}
