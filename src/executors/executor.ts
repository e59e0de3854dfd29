/**
 * The small interface every executor implements. The pool core owns everything else
 * (queueing, scheduling, errors, lifecycle); an executor only starts a worker, carries
 * messages to and from it, and reports how it ended.
 */
import type { TransferListItem } from 'node:worker_threads';
import type { MainMessage, WorkerInit, WorkerMessage } from '../protocol/messages.js';

export interface WorkerExit {
  exitCode: number | null;
  signal: string | null;
  /** A human reason when known: an uncaught error's message, "out of memory"... */
  reason?: string;
  /** The error that ended the worker, when there was one. */
  error?: unknown;
}

export interface WorkerEvents {
  message(message: WorkerMessage): void;
  exit(exit: WorkerExit): void;
}

export interface WorkerHandle {
  /** Sends a message; throws (a DataCloneError) when a value cannot be serialised. */
  post(message: MainMessage, transfer: readonly TransferListItem[]): void;
  /** Keep the process alive for this worker (it has work) or not (it is idle). */
  ref(): void;
  unref(): void;
  /** Ends the worker now; `exit` follows. */
  terminate(): void;
}

export interface Executor {
  /** Whether workers can share memory with the pool (a `SharedArrayBuffer` in `WorkerInit`). */
  readonly sharesMemory: boolean;
  /**
   * Whether a worker still starting gives back, when asked by message, a task handed with its
   * spawn (worker processes: see src/worker/spawn-inbox.ts). Threads use shared memory instead.
   */
  readonly givesBackByMessage?: boolean;
  /**
   * Most tasks one worker may hold at once. Unset: as many as tiny tasks warrant (pipelining).
   * `1` for workers that are not processes of their own, such as a remote slot holding one job.
   */
  readonly maxDepth?: number;
  /**
   * Tasks already waiting for a worker outside the pool's own queue (a queue shared with other
   * pools, in Redis), which admission counts against `maxQueue`. Must answer at once.
   */
  waiting?(): number;
  spawn(init: WorkerInit, events: WorkerEvents): WorkerHandle;
}

const TYPESCRIPT = /\.[cm]?tsx?$/;
// By path: a loader may add a query to a module's URL (`executor.ts?v=2`), never to its path.
const IS_SOURCE = TYPESCRIPT.test(new URL(import.meta.url).pathname);

/**
 * Where the worker-side entry files live, as `.ts` when offload runs from source. Compiled, they
 * are `.mjs`: Node 20 runs a forked process's main file ending in `.js` through its CommonJS
 * loader first, even in an ESM package, and after that detour the process's `import()` of the
 * task module took 4.7 ms instead of 2.7. A worker process reached its first result 5 to 7 ms
 * sooner from `.mjs` (bench/RESULTS.md, 2026-12-02).
 */
export function entryUrl(name: string): URL {
  const extension = IS_SOURCE ? '.ts' : '.mjs';
  return new URL(`../worker/${name}${extension}`, import.meta.url);
}

const resolved = new Map<string, string | undefined>();

/** A package's URL as seen from offload itself, resolved once; undefined when not installed. */
export function resolveOnce(specifier: string): string | undefined {
  if (!resolved.has(specifier)) {
    let url: string | undefined;
    try {
      url = import.meta.resolve(specifier);
    } catch {
      url = undefined;
    }
    resolved.set(specifier, url);
  }
  return resolved.get(specifier);
}

/**
 * The URL of tsx's register API when a worker must load TypeScript (offload itself running
 * from source, or a `.ts` task module), so that `.ts` works in development without flags.
 * Node 20 does not run `--import` hooks in worker threads, so each worker registers its own.
 */
export function typeScriptLoader(moduleUrl: string): string | undefined {
  if (!IS_SOURCE && !TYPESCRIPT.test(new URL(moduleUrl).pathname)) return undefined;
  return resolveOnce('tsx/esm/api');
}
