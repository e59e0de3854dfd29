/**
 * Pool options: one type, defaults in one place, validated when the pool is created so a typo
 * fails at start-up with the option's name, never later inside a task.
 */
import { fs, os } from '../builtins.js';
import type { ResourceLimits } from 'node:worker_threads';
import { unlistable } from '../transfer.js';
import { carriedContext, type CarryingOptions } from '../tracing/call-trace.js';
import { propertyPath } from '../protocol/clone-path.js';
import { quoted, shown } from '../quoted.js';
import { isAbortSignal } from './abort-signal.js';
import { cancelHook, type CancellableOptions } from './cancel-hook.js';
import { resolveRemoteOptions, type RemotePoolOptions, type ResolvedRemoteOptions } from '../remote/options.js';

export interface PoolOptions extends RemotePoolOptions {
  /**
   * `'thread'` (worker_threads), `'process'` (child processes: isolation from native crashes,
   * a heap per worker) or `'remote'` (BullMQ on Redis: `offload worker` processes anywhere).
   * Default `'thread'`.
   */
  executor?: 'thread' | 'process' | 'remote';
  /** Most workers (same as `maxSize`). Default: `os.availableParallelism()`. */
  size?: number;
  /** Most workers; the pool grows to it under load. Default: `size`. */
  maxSize?: number;
  /** Workers kept even when idle, once the pool has started. Default `0`. */
  minSize?: number;
  /** A worker idle this long (ms) ends, down to `minSize`. Default `30000`. */
  idleTimeout?: number;
  /** Tasks allowed to wait for a worker; beyond it calls fail with `ERR_OFFLOAD_QUEUE_FULL`. Default `Infinity`. */
  maxQueue?: number;
  /** A worker is replaced after running this many tasks (for leaky native code). Default `Infinity`. */
  maxTasksPerWorker?: number;
  /**
   * Async tasks a worker runs at once: a task awaiting a database or `fetch` leaves its worker
   * free for the next. A synchronous task still holds its worker's thread. Default `1`.
   */
  concurrentTasksPerWorker?: number;
  /**
   * After a task, a worker using more than this many MB (a thread: its heap in use plus external
   * memory; a process: its resident set) is replaced gracefully. Default `Infinity`.
   */
  maxWorkerMemoryMb?: number;
  /**
   * Workers add this to their nice value at start (0 to 19), so that the main thread gets a core
   * first when workers are busy (Linux; ignored elsewhere). Default `0`.
   */
  niceIncrement?: number;
  /** After a running task is cancelled, how long (ms) it may take to stop by itself before its worker is ended (`Infinity`: never). Default `500`. */
  cancelGracePeriod?: number;
  /** Default `stallTimeout` of every stream (see `StreamOptions`). Default `Infinity`. */
  stallTimeout?: number;
  /** Names the pool in worker names and messages. Default `'offload'`. */
  name?: string;
  /** Thread executor: V8 heap limits per worker. Default: Node's. */
  resourceLimits?: ResourceLimits;
  /** Environment of the workers. Default: the parent's `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Node flags of the workers. Default: the parent's `process.execArgv`. */
  execArgv?: string[];
  /** Process executor: the workers' working directory. Default: the parent's `process.cwd()`. */
  cwd?: string;
  /** Process executor: V8 old-space limit per worker (`--max-old-space-size`), in MB. Default: Node's. */
  maxOldSpaceSizeMb?: number;
  /**
   * Called on the calling thread at each call; what it returns (a request id, a tenant: any
   * structured-cloneable value) travels with the task, and task code reads it with
   * `callContext()`. Default: none.
   */
  captureContext?: () => unknown;
}

export interface ResolvedOptions {
  executor: 'thread' | 'process' | 'remote';
  maxSize: number;
  minSize: number;
  idleTimeout: number;
  maxQueue: number;
  maxTasksPerWorker: number;
  concurrentTasksPerWorker: number;
  maxWorkerMemoryMb: number;
  niceIncrement: number;
  cancelGracePeriod: number;
  stallTimeout: number;
  name: string;
  resourceLimits: ResourceLimits | undefined;
  env: NodeJS.ProcessEnv | undefined;
  execArgv: string[] | undefined;
  cwd: string | undefined;
  maxOldSpaceSizeMb: number | undefined;
  captureContext: (() => unknown) | undefined;
  /** Set with `executor: 'remote'`. */
  remote: ResolvedRemoteOptions | undefined;
}

const EXECUTORS = ['thread', 'process', 'remote'] as const;
/** Options that only one executor can honour: refused with the other rather than ignored. */
const ONLY_FOR = { resourceLimits: 'thread', cwd: 'process', maxOldSpaceSizeMb: 'process' } as const;

export function resolveOptions(options: PoolOptions = {}): ResolvedOptions {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  const executor = options.executor ?? 'thread';
  if (!EXECUTORS.includes(executor)) {
    throw new TypeError(`options.executor must be one of ${EXECUTORS.join(', ')} (got ${shown(executor)})`);
  }
  for (const [name, only] of Object.entries(ONLY_FOR)) {
    if (options[name as keyof typeof ONLY_FOR] !== undefined && executor !== only) {
      throw new TypeError(`options.${name} applies to the ${only} executor only (executor: '${executor}')`);
    }
  }
  const remote = resolveRemoteOptions(executor, options as Record<string, unknown>);
  if (options.size !== undefined && options.maxSize !== undefined && options.size !== options.maxSize) {
    throw new RangeError(`options.size and options.maxSize disagree (${shown(options.size)} and ${shown(options.maxSize)}); give one`);
  }
  const maxSize = remote?.maxInFlight ?? integer('maxSize', options.maxSize ?? integer('size', options.size ?? os().availableParallelism(), 1), 1);
  const minSize = integer('minSize', options.minSize ?? 0, 0);
  if (minSize > maxSize) throw new RangeError(`options.minSize (${minSize}) exceeds the pool's size (${maxSize})`);
  return {
    executor,
    maxSize,
    minSize,
    idleTimeout: limit('idleTimeout', options.idleTimeout ?? 30_000, 0),
    maxQueue: limit('maxQueue', options.maxQueue ?? Infinity, 0),
    maxTasksPerWorker: limit('maxTasksPerWorker', options.maxTasksPerWorker ?? Infinity, 1),
    concurrentTasksPerWorker: integer('concurrentTasksPerWorker', options.concurrentTasksPerWorker ?? 1, 1),
    maxWorkerMemoryMb: limit('maxWorkerMemoryMb', options.maxWorkerMemoryMb ?? Infinity, 1),
    niceIncrement: niceness(options.niceIncrement ?? 0),
    cancelGracePeriod: timerLimit('cancelGracePeriod', options.cancelGracePeriod ?? 500),
    stallTimeout: milliseconds('stallTimeout', options.stallTimeout ?? Infinity),
    name: text('name', options.name ?? 'offload'),
    resourceLimits: options.resourceLimits === undefined ? undefined : heapLimits(options.resourceLimits),
    env: options.env === undefined ? undefined : environment(options.env),
    execArgv: options.execArgv === undefined ? undefined : flags(options.execArgv),
    cwd: options.cwd === undefined ? undefined : directory(options.cwd),
    maxOldSpaceSizeMb: options.maxOldSpaceSizeMb === undefined ? undefined : integer('maxOldSpaceSizeMb', options.maxOldSpaceSizeMb, 1),
    captureContext: hook('captureContext', options.captureContext),
    remote,
  };
}

/** An integer at least `min`, or `Infinity`. */
function limit(name: string, value: unknown, min: number): number {
  return value === Infinity ? Infinity : integer(name, value, min);
}

/** Most a single Node timer can wait; a pool-held timer longer than that is refused by name. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A delay the pool arms one timer for: an integer up to `MAX_TIMER_MS`, or `Infinity` (never). */
function timerLimit(name: string, value: unknown): number {
  const ms = limit(name, value, 0);
  if (ms !== Infinity && ms > MAX_TIMER_MS) {
    throw new RangeError(`options.${name} must be at most ${MAX_TIMER_MS} ms, or Infinity (got ${ms})`);
  }
  return ms;
}

/** A positive number of milliseconds, `Infinity` included (no limit). */
function milliseconds(name: string, value: unknown): number {
  if (!(typeof value === 'number' && value > 0)) {
    throw new RangeError(`options.${name} must be a positive number of milliseconds or Infinity (got ${shown(value)})`);
  }
  return value;
}

function integer(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(`options.${name} must be an integer (got ${shown(value)})`);
  }
  if (value < min) throw new RangeError(`options.${name} must be at least ${min} (got ${value})`);
  return value;
}

/** Nice values run from -20 to 19: an increment past 19 could never be told apart from 19. */
function niceness(value: unknown): number {
  const increment = integer('niceIncrement', value, 0);
  if (increment > 19) throw new RangeError(`options.niceIncrement must be at most 19 (got ${increment})`);
  return increment;
}

function hook(name: string, value: unknown): (() => unknown) | undefined {
  if (value !== undefined && typeof value !== 'function') throw new TypeError(`options.${name} must be a function (got ${typeof value})`);
  return value as (() => unknown) | undefined;
}

function text(name: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') throw new TypeError(`options.${name} must be a non-empty string`);
  return value;
}

export interface RunOptionsInput {
  signal?: AbortSignal | undefined;
  timeout?: number | undefined;
  priority?: number | undefined;
  onProgress?: unknown;
  transfer?: unknown;
  highWaterMark?: number | undefined;
  stallTimeout?: number | undefined;
  key?: string | undefined;
}

/**
 * Checks a call's options, all of them before anything is armed or counted, so a refused call
 * leaves no timer, listener or queue slot behind, and returns them read: each field read once
 * into a plain object, the transfer list copied. The pool uses only what this returns, so a
 * getter or a Proxy that answers differently on a second read cannot slip past the checks.
 * Runs on every call that passes some, so it stays cheap.
 */
export function checkRunOptions(options: RunOptionsInput): RunOptionsInput {
  if (options === null || typeof options !== 'object') throw new TypeError('The call options must be an object');
  const { signal, timeout, priority, onProgress, transfer, highWaterMark, stallTimeout, key } = options;
  const carried = (options as CarryingOptions)[carriedContext];
  const hook = (options as CancellableOptions)[cancelHook];
  if (signal !== undefined && !isAbortSignal(signal)) throw new TypeError('options.signal must be an AbortSignal');
  if (timeout !== undefined) milliseconds('timeout', timeout);
  if (priority !== undefined && !Number.isInteger(priority)) {
    throw new TypeError(`options.priority must be an integer (got ${shown(priority)})`);
  }
  if (onProgress !== undefined && typeof onProgress !== 'function') throw new TypeError('options.onProgress must be a function');
  let listed: unknown[] | undefined;
  if (transfer !== undefined) {
    if (!Array.isArray(transfer)) throw new TypeError('options.transfer must be an array');
    listed = [];
    for (let i = 0, length = (transfer as unknown[]).length; i < length; i++) {
      const item: unknown = transfer[i];
      const refusal = unlistable(item);
      if (refusal !== undefined) throw new TypeError(`options.transfer[${i}] is ${refusal}`);
      listed.push(item);
    }
  }
  if (highWaterMark !== undefined && !(Number.isInteger(highWaterMark) && highWaterMark >= 1)) {
    throw new RangeError(`options.highWaterMark must be a positive integer (got ${shown(highWaterMark)})`);
  }
  if (stallTimeout !== undefined) milliseconds('stallTimeout', stallTimeout);
  if (key !== undefined && typeof key !== 'string') throw new TypeError(`options.key must be a string (got ${typeof key})`);
  const read: RunOptionsInput & CarryingOptions & CancellableOptions = { signal, timeout, priority, onProgress, transfer: listed, highWaterMark, stallTimeout, key };
  // The internal options of offload's own callers (a remote worker's local pool), as given.
  if (carried !== undefined) read[carriedContext] = carried;
  if (hook !== undefined) read[cancelHook] = hook;
  return read;
}

const HEAP_LIMITS = ['maxOldGenerationSizeMb', 'maxYoungGenerationSizeMb', 'codeRangeSizeMb', 'stackSizeMb'];
const MIN_STACK_MB = 1;
/** More than V8 uses for code on any 64-bit platform (128 MB on x64). */
const MAX_CODE_RANGE_MB = 512;

/** Checked now: Node ignores a limit it cannot read and starts a worker that cannot run on a limit below zero. */
function heapLimits(value: unknown): ResourceLimits {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`options.resourceLimits must be an object (${HEAP_LIMITS.join(', ')})`);
  }
  for (const [key, limit] of Object.entries(value)) {
    if (!HEAP_LIMITS.includes(key)) throw new TypeError(`options.resourceLimits${propertyPath(key)} is not a limit (${HEAP_LIMITS.join(', ')})`);
    if (limit === undefined) continue;
    if (!(typeof limit === 'number' && Number.isFinite(limit) && limit > 0)) {
      throw new RangeError(`options.resourceLimits.${key} must be a positive number of MB (got ${shown(limit)})`);
    }
    // Node aborts the whole process, not just the worker, when a thread's stack cannot hold its
    // start-up (below about 0.25 MB), or when V8 cannot reserve the code range up front.
    if (key === 'stackSizeMb' && limit < MIN_STACK_MB) {
      throw new RangeError(`options.resourceLimits.stackSizeMb must be at least ${MIN_STACK_MB} MB: a smaller stack aborts the whole process as the worker starts (got ${limit})`);
    }
    if (key === 'codeRangeSizeMb' && limit > MAX_CODE_RANGE_MB) {
      throw new RangeError(`options.resourceLimits.codeRangeSizeMb must be at most ${MAX_CODE_RANGE_MB} MB: a range V8 cannot reserve aborts the whole process (got ${limit})`);
    }
  }
  return value as ResourceLimits;
}

/** Checked now: Node refuses these only when a worker starts, which would fail every call. */
function environment(value: unknown): NodeJS.ProcessEnv {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError('options.env must be an object of environment variables');
  }
  for (const [key, entry] of Object.entries(value)) {
    if (key.includes('\0')) throw new TypeError(`options.env has a variable name with a NUL byte (${quoted(key)})`);
    if (entry === undefined) continue;
    if (typeof entry !== 'string') {
      throw new TypeError(`options.env${propertyPath(key)} must be a string (got ${typeof entry})`);
    }
    if (entry.includes('\0')) throw new TypeError(`options.env${propertyPath(key)} contains a NUL byte`);
  }
  return value as NodeJS.ProcessEnv;
}

function flags(value: unknown): string[] {
  if (!Array.isArray(value) || !value.every((flag) => typeof flag === 'string')) {
    throw new TypeError('options.execArgv must be an array of strings');
  }
  const withNul = value.find((flag: string) => flag.includes('\0'));
  if (withNul !== undefined) throw new TypeError(`options.execArgv has a flag with a NUL byte (${quoted(withNul)})`);
  return value;
}

/** Checked now: a missing directory would otherwise surface only when the first worker starts. */
function directory(value: unknown): string {
  const path = text('cwd', value);
  let isDirectory = false;
  try {
    isDirectory = fs().statSync(path, { throwIfNoEntry: false })?.isDirectory() === true;
  } catch {
    // Not a path to a directory either (ENOTDIR, ENAMETOOLONG, a NUL byte): refused alike.
  }
  if (!isDirectory) throw new RangeError(`options.cwd must be an existing directory (got ${shown(path)})`);
  return path;
}
