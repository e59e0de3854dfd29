/**
 * The worker side of the remote executor: consumes a queue's jobs with a BullMQ `Worker` and runs
 * each in a local offload thread pool, so a remote worker keeps every local guarantee (crash
 * isolation, cancellation, recycling) and its own event loop stays free to renew job locks: a
 * long CPU-bound task never makes its job look stalled.
 *
 * A job names a task exported by this worker's own module; nothing in Redis can make it load
 * another file or run code. The module is loaded before the first job is taken: a worker whose
 * module fails to load refuses to start rather than failing every job it would take.
 */
import { availableParallelism, hostname } from 'node:os';
import { pathToFileURL } from 'node:url';
import type { ResourceLimits } from 'node:worker_threads';
import { Worker, type ConnectionOptions, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { AbortError, WorkerExitedError } from '../errors.js';
import { createPool, type Pool } from '../pool/pool.js';
import type { PoolStats } from '../pool/stats.js';
import { encodeError } from '../protocol/error-codec.js';
import { cancelChannel, decodeArgs, decodeCarried, encodeProgress, encodeReply, Reply, type ReplyMessage } from './codec.js';
import { carriedContext } from '../tracing/call-trace.js';
import { resolveConnection, resolvePayloadLimit, resolvePrefix, resolveQueueName, type RemoteConnection } from './options.js';

export interface RemoteWorkerOptions {
  /** The task module, as a file URL or an absolute path: the only code this worker runs. */
  taskModule: URL | string;
  /** Redis: a `redis://` / `rediss://` URL or ioredis options. */
  connection: RemoteConnection;
  /** The queue to serve: the `queue` option of the pools that call it. */
  queue: string;
  /** Prefix of the queue's Redis keys; as the pools'. Default `'offload'`. */
  prefix?: string;
  /** Jobs run at once, one per local worker thread. Default: `os.availableParallelism()`. */
  size?: number;
  /** Largest serialised arguments accepted and result sent, in bytes; as the pools'. Default 8 MiB. */
  maxPayloadBytes?: number;
  /** How long (ms) this worker's hold on a job lasts without renewal; it is renewed every half of it. Default `30000`. */
  lockDuration?: number;
  /** How often (ms) workers look for stalled jobs (their worker died) to run again. Default `30000`. */
  stalledInterval?: number;
  /** How often a job may stall before it fails instead of running again. Default `1`. */
  maxStalledCount?: number;
  /** Local pool: how long (ms) a cancelled task may take to stop before its thread is ended. Default `500`. */
  cancelGracePeriod?: number;
  /** Local pool: replace a thread after this many tasks. Default `Infinity`. */
  maxTasksPerWorker?: number;
  /** Local pool: async jobs each thread runs at once; the worker takes `size` × this many jobs. Default `1`. */
  concurrentTasksPerWorker?: number;
  /** Local pool: replace a thread past this many MB after a task. Default `Infinity`. */
  maxWorkerMemoryMb?: number;
  /** Local pool: threads lower their priority by this much (Linux). Default `0`. */
  niceIncrement?: number;
  /** Local pool: V8 heap limits per thread. */
  resourceLimits?: ResourceLimits;
  /** Where errors of the worker itself go (a lost connection, a job Redis no longer has). Default: `console.error`. */
  onError?: (error: unknown) => void;
}

export interface RemoteWorker {
  readonly queue: string;
  /** The local pool's statistics. */
  stats(): PoolStats;
  /** Stops taking jobs, finishes the active ones, runs `teardown` in every thread, disconnects. */
  close(): Promise<void>;
}

/** Forgotten after this long: a cancellation for a job this worker never started. */
const EARLY_CANCEL_MS = 60_000;
const CALLER_FRAMES = '\n    at <offload: called from>';

export async function startRemoteWorker(options: RemoteWorkerOptions): Promise<RemoteWorker> {
  if (options === null || typeof options !== 'object') throw new TypeError('startRemoteWorker() needs options');
  const connection = resolveConnection(options.connection, 'connection');
  const queue = resolveQueueName(options.queue, 'queue');
  const prefix = resolvePrefix(options.prefix, 'prefix');
  const limit = resolvePayloadLimit(options.maxPayloadBytes, 'maxPayloadBytes');
  const onError = options.onError ?? ((error: unknown) => console.error('offload worker:', error instanceof Error ? error.message : error));
  const taskModule = typeof options.taskModule === 'string' && !options.taskModule.startsWith('file:') ? pathToFileURL(options.taskModule) : options.taskModule;

  const size = options.size ?? availableParallelism();
  const pool = createPool(taskModule, {
    size,
    minSize: typeof size === 'number' ? size : undefined, // the pool checks it
    idleTimeout: Infinity,
    name: `offload-worker:${queue}`,
    cancelGracePeriod: options.cancelGracePeriod,
    maxTasksPerWorker: options.maxTasksPerWorker,
    concurrentTasksPerWorker: options.concurrentTasksPerWorker,
    maxWorkerMemoryMb: options.maxWorkerMemoryMb,
    niceIncrement: options.niceIncrement,
    resourceLimits: options.resourceLimits,
  });
  try {
    await pool.warmup();
  } catch (error) {
    await pool.destroy();
    throw error;
  }

  const { url, ...rest } = connection;
  const subscriber = url === undefined ? new Redis({ ...rest, lazyConnect: true }) : new Redis(url, { ...rest, lazyConnect: true });
  subscriber.on('error', () => {}); // reconnects by itself; the BullMQ worker reports outages
  const cancels = new EarlyCancels();
  const worker = new Worker(queue, (job: Job, _token?: string, signal?: AbortSignal) => runJob(pool, job, signal, limit, cancels), {
    connection: (url === undefined ? rest : { ...rest, url }) as ConnectionOptions,
    prefix,
    concurrency: pool.options.maxSize * pool.options.concurrentTasksPerWorker,
    name: `${hostname()}:${process.pid}`,
    // BullMQ reads an undefined option as a value, not as its default.
    ...defined({ lockDuration: options.lockDuration, stalledInterval: options.stalledInterval, maxStalledCount: options.maxStalledCount }),
  });
  worker.on('error', onError);
  subscriber.on('message', (_channel: string, jobId: string) => {
    if (!worker.cancelJob(jobId, 'the caller cancelled the task')) cancels.add(jobId);
  });
  try {
    await subscriber.connect();
    await subscriber.subscribe(cancelChannel(prefix, queue));
    await worker.waitUntilReady();
  } catch (error) {
    await Promise.allSettled([worker.close(), pool.destroy()]);
    subscriber.disconnect();
    throw error;
  }

  let closing: Promise<void> | undefined;
  return {
    queue,
    stats: () => pool.stats(),
    close: () =>
      (closing ??= (async () => {
        await worker.close(); // waits for the active jobs
        await pool.close();
        subscriber.disconnect();
      })()),
  };
}

async function runJob(pool: Pool, job: Job, signal: AbortSignal | undefined, limit: number, cancels: EarlyCancels): Promise<string> {
  if (job.id !== undefined && cancels.take(job.id)) {
    return encodeReply([Reply.Failed, 0, encodeError(new AbortError('cancelled before it started'))], limit);
  }
  let args: unknown[];
  try {
    args = decodeArgs(job.data, limit);
  } catch (error) {
    return encodeReply([Reply.Failed, 0, encodeError(error)], limit);
  }
  const began = performance.now();
  let reply: ReplyMessage;
  try {
    // Progress travels as the job's progress, which the producers' events listener hears.
    const onProgress = (value: unknown): void => void job.updateProgress(encodeProgress(value)).catch(() => {});
    // The caller's trace and request context go on to the local thread as they came.
    const options = { signal, onProgress, [carriedContext]: decodeCarried(job.data, limit) };
    const value = await pool.run(job.name, args, options);
    reply = [Reply.Ok, performance.now() - began, value];
  } catch (error) {
    const busy = performance.now() - began;
    if (error instanceof WorkerExitedError) {
      const { exitCode, signal: exitSignal, reason, cause } = error;
      reply = [Reply.Exited, busy, { exitCode, signal: exitSignal, reason, error: cause === undefined ? undefined : encodeError(cause) }];
    } else {
      reply = [Reply.Failed, busy, encodeError(withoutLocalCaller(error))];
    }
  }
  return encodeReply(reply, limit);
}

function defined<T extends Record<string, unknown>>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as Partial<T>;
}

/** The local pool appends this process's frames to task errors; the caller is elsewhere. */
function withoutLocalCaller(error: unknown): unknown {
  if (error instanceof Error && typeof error.stack === 'string') {
    const at = error.stack.indexOf(CALLER_FRAMES);
    if (at !== -1) error.stack = error.stack.slice(0, at);
  }
  return error;
}

/**
 * Cancellations that arrived before their job started here (or for jobs that run elsewhere):
 * a producer asks to cancel once it finds the job taken, which may be just before this worker
 * begins it.
 */
class EarlyCancels {
  readonly #ids = new Map<string, number>();

  add(jobId: string): void {
    const now = Date.now();
    for (const [id, at] of this.#ids) {
      if (now - at < EARLY_CANCEL_MS) break; // insertion order: the rest are newer
      this.#ids.delete(id);
    }
    this.#ids.set(jobId, now);
  }

  take(jobId: string): boolean {
    return this.#ids.delete(jobId);
  }
}
