/**
 * Options of the remote executor (the producer side of a pool) and of a remote worker, with
 * their defaults and checks in one place. Both sides must agree on `prefix`, `queue` and
 * `maxPayloadBytes`; the worker defaults equal the pool defaults.
 */
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { quoted, shown } from '../quoted.js';

/**
 * ioredis options, passed through as they are. The common ones are named here so that this
 * package's types need no ioredis (an optional dependency); any other ioredis option is accepted.
 */
export interface RemoteConnectionOptions {
  url?: string;
  host?: string;
  port?: number;
  /** A Unix socket instead of host and port. */
  path?: string;
  username?: string;
  password?: string;
  db?: number;
  tls?: TlsOptions;
  connectTimeout?: number;
  [option: string]: unknown;
}

/** Redis: a `redis://` or `rediss://` (TLS) URL, or ioredis options (host, port, password, tls, db...). */
export type RemoteConnection = string | RemoteConnectionOptions;

export interface RemotePoolOptions {
  /** Remote executor: where Redis is. Required with `executor: 'remote'`. */
  connection?: RemoteConnection;
  /** Remote executor: the queue's name; `offload worker` processes started with it serve it. Required with `executor: 'remote'`. */
  queue?: string;
  /** Remote executor: prefix of the queue's Redis keys. Default `'offload'`. */
  prefix?: string;
  /** Remote executor: largest serialised arguments, in bytes. Default `8388608` (8 MiB). */
  maxPayloadBytes?: number;
  /**
   * Remote executor: most jobs this pool keeps in Redis at once (waiting or running); further
   * calls wait in the pool, in priority order. Default `256`. How many run at once is up to the
   * workers (`offload worker --size`).
   */
  maxInFlight?: number;
}

export interface ResolvedRemoteOptions {
  connection: RemoteConnectionOptions;
  queue: string;
  prefix: string;
  maxPayloadBytes: number;
  maxInFlight: number;
}

export const DEFAULT_PREFIX = 'offload';
export const DEFAULT_MAX_PAYLOAD_BYTES = 8 * 1024 * 1024;
export const DEFAULT_MAX_IN_FLIGHT = 256;
/** A job's name is a task's name: a worker refuses anything longer, and a pool sends nothing longer. */
export const MAX_TASK_NAME = 256;

const REMOTE_ONLY = ['connection', 'queue', 'prefix', 'maxPayloadBytes', 'maxInFlight'] as const;
/** Options a remote pool cannot honour: they belong to the worker processes, which are not its own. */
const LOCAL_ONLY = ['resourceLimits', 'env', 'execArgv', 'maxTasksPerWorker', 'maxWorkerMemoryMb', 'niceIncrement', 'concurrentTasksPerWorker'] as const;

/** Checks the remote options of a pool; `undefined` for the local executors, which refuse them. */
export function resolveRemoteOptions(executor: string, options: Record<string, unknown>): ResolvedRemoteOptions | undefined {
  if (executor !== 'remote') {
    for (const name of REMOTE_ONLY) {
      if (options[name] !== undefined) throw new TypeError(`options.${name} applies to the remote executor only (executor: '${executor}')`);
    }
    return undefined;
  }
  for (const name of LOCAL_ONLY) {
    if (options[name] !== undefined) {
      throw new TypeError(`options.${name} does not apply to the remote executor: give it to the remote workers (offload worker)`);
    }
  }
  // A remote pool starts no workers: its size would only be a hidden cap on jobs in flight.
  for (const name of ['size', 'maxSize', 'minSize']) {
    if (options[name] !== undefined) {
      throw new TypeError(`options.${name} does not apply to the remote executor: maxInFlight caps the jobs a pool keeps in Redis, and offload worker --size sets how many run at once`);
    }
  }
  const maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
  if (typeof maxInFlight !== 'number' || !Number.isInteger(maxInFlight) || maxInFlight < 1) {
    throw new RangeError(`options.maxInFlight must be an integer of at least 1 (got ${shown(maxInFlight)})`);
  }
  return {
    maxInFlight,
    connection: resolveConnection(options.connection, 'options.connection'),
    queue: resolveQueueName(options.queue, 'options.queue'),
    prefix: resolvePrefix(options.prefix, 'options.prefix'),
    maxPayloadBytes: resolvePayloadLimit(options.maxPayloadBytes, 'options.maxPayloadBytes'),
  };
}

export function resolveConnection(value: unknown, name: string): RemoteConnectionOptions {
  if (typeof value === 'string') {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      // Not echoed: a malformed URL may still hold the password.
      throw new TypeError(`${name} must be a redis:// or rediss:// URL or ioredis options (got a string that is not a URL)`);
    }
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
      throw new TypeError(`${name} must be a redis:// or rediss:// URL (got ${url.protocol})`);
    }
    return { url: value };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${name} is required with the remote executor: a redis:// URL or ioredis options`);
  }
  if ((value as RemoteConnectionOptions).keyPrefix !== undefined) {
    throw new TypeError(`${name}.keyPrefix is not supported: use the prefix option`);
  }
  const { host, port, db } = value as RemoteConnectionOptions;
  // Checked now: ioredis would fail every call later, with a message about sockets.
  if (host !== undefined && (typeof host !== 'string' || host === '')) throw new TypeError(`${name}.host must be a host name`);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    throw new RangeError(`${name}.port must be a TCP port, an integer from 0 to 65535 (got ${shown(port)})`);
  }
  if (db !== undefined && !(Number.isInteger(db) && db >= 0)) throw new RangeError(`${name}.db must be an integer of at least 0 (got ${shown(db)})`);
  return { ...(value as RemoteConnectionOptions) };
}

export function resolveQueueName(value: unknown, name: string): string {
  if (typeof value !== 'string' || value === '') throw new TypeError(`${name} is required with the remote executor: a queue name`);
  if (value.includes(':')) throw new TypeError(`${name} cannot contain ':' (got ${quoted(value)})`);
  return value;
}

export function resolvePrefix(value: unknown, name: string): string {
  if (value === undefined) return DEFAULT_PREFIX;
  if (typeof value !== 'string' || value === '') throw new TypeError(`${name} must be a non-empty string`);
  return value;
}

export function resolvePayloadLimit(value: unknown, name: string): number {
  if (value === undefined) return DEFAULT_MAX_PAYLOAD_BYTES;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1024) {
    throw new RangeError(`${name} must be an integer of at least 1024 bytes (got ${shown(value)})`);
  }
  return value;
}
