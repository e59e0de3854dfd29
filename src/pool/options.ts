/**
 * Pool options: one type, defaults in one place, validated when the pool is created so a typo
 * fails at start-up with the option's name, never later inside a task.
 */
import { availableParallelism } from 'node:os';
import type { ResourceLimits } from 'node:worker_threads';

export interface PoolOptions {
  /** `'thread'` (worker_threads). Default `'thread'`. */
  executor?: 'thread';
  /** Number of workers, started on demand. Default: `os.availableParallelism()`. */
  size?: number;
  /** Tasks allowed to wait for a worker; beyond it calls fail with `ERR_OFFLOAD_QUEUE_FULL`. Default `Infinity`. */
  maxQueue?: number;
  /** Names the pool in worker names and messages. Default `'offload'`. */
  name?: string;
  /** Thread executor: V8 heap limits per worker. Default: Node's. */
  resourceLimits?: ResourceLimits;
  /** Environment of the workers. Default: the parent's `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Node flags of the workers. Default: the parent's `process.execArgv` (so `--import tsx` carries over). */
  execArgv?: string[];
}

export interface ResolvedOptions {
  executor: 'thread';
  size: number;
  maxQueue: number;
  name: string;
  resourceLimits: ResourceLimits | undefined;
  env: NodeJS.ProcessEnv | undefined;
  execArgv: string[] | undefined;
}

const EXECUTORS = ['thread'] as const;

export function resolveOptions(options: PoolOptions = {}): ResolvedOptions {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  const executor = options.executor ?? 'thread';
  if (!EXECUTORS.includes(executor)) {
    throw new TypeError(`options.executor must be one of ${EXECUTORS.join(', ')} (got ${String(executor)})`);
  }
  return {
    executor,
    size: integer('size', options.size ?? availableParallelism(), 1),
    maxQueue: options.maxQueue === Infinity || options.maxQueue === undefined ? Infinity : integer('maxQueue', options.maxQueue, 0),
    name: text('name', options.name ?? 'offload'),
    resourceLimits: options.resourceLimits,
    env: options.env,
    execArgv: options.execArgv,
  };
}

function integer(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(`options.${name} must be an integer (got ${String(value)})`);
  }
  if (value < min) throw new RangeError(`options.${name} must be at least ${min} (got ${value})`);
  return value;
}

function text(name: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') throw new TypeError(`options.${name} must be a non-empty string`);
  return value;
}
