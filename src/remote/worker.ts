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
import { AbortError, PayloadTooLargeError, WorkerExitedError } from '../errors.js';
import { createPool, streamTaskNames, type Pool } from '../pool/pool.js';
import { cancelHook } from '../pool/cancel-hook.js';
import type { PoolStats } from '../pool/stats.js';
import { encodeError } from '../protocol/error-codec.js';
import { cancelChannel, creditChannel, REPLY_TTL_MS, decodeArgs, decodeCarried, decodeStreamCredit, encodeEntry, generatorsKey, producerOf, Reply, replyList, type ReplyMessage } from './codec.js';
import { replyPusher } from './reply-push.js';
import { forwardStream, StreamCredits } from './stream-job.js';
import { carriedContext } from '../tracing/call-trace.js';
import { MAX_TASK_NAME, resolveConnection, resolvePayloadLimit, resolvePrefix, resolveQueueName, type RemoteConnection } from './options.js';
import { quoted } from '../quoted.js';

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
/** Most early cancellations kept: anyone can publish on the channel, so what it keeps is bounded. */
const EARLY_CANCEL_MAX = 10_000;
/** What `encodeArgs` writes into a job: anything else is not offload's. */
const JOB_FIELDS = new Set(['v', 'args', 'ctx', 's']);
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
  const client = (options: Record<string, unknown>): Redis =>
    url === undefined ? new Redis({ ...rest, ...options }) : new Redis(url, { ...rest, ...options });
  const subscriber = client({ lazyConnect: true });
  subscriber.on('error', () => {}); // reconnects by itself; the BullMQ worker reports outages
  // Replies go on the BullMQ worker's own connection, which completes the jobs: commands of one
  // connection run in the order sent, so a job's reply is in Redis before the job leaves the
  // queue without the job waiting for it. Known once the worker is created.
  let push: ((list: string, entry: Buffer) => Promise<number>) | undefined;
  const send = (jobId: string | undefined, entry: Buffer): void => {
    const producer = producerOf(jobId);
    if (producer === undefined) return;
    // Not a pipeline: one on this connection would copy BullMQ's scripts each time. A list just
    // created gets its expiry in the same command; its producer renews it while it reads it.
    push!(replyList(prefix, queue, producer), entry).catch((error: unknown) =>
      onError(new Error(`cannot reply to job ${jobId}: ${error instanceof Error ? error.message : String(error)}`)),
    );
  };
  const answer: Answer = (jobId, entry) => send(jobId, encodeEntry(jobId ?? '', entry, limit));
  const credits = new StreamCredits();
  const channels = { cancel: cancelChannel(prefix, queue), credit: creditChannel(prefix, queue) };
  const cancels = new EarlyCancels();
  const running: RunningJobs = new Map();
  const context: JobContext = { cancels, running, credits, answer, send, onError };
  // One parameter: a processor that takes BullMQ's third (a signal) makes BullMQ create an
  // AbortController per job; cancellations reach running jobs through `running` instead.
  const worker = new Worker(queue, (job: Job) => runJob(pool, job, limit, context), {
    connection: (url === undefined ? rest : { ...rest, url }) as ConnectionOptions,
    autorun: false,
    prefix,
    concurrency: pool.options.maxSize * pool.options.concurrentTasksPerWorker,
    name: `${hostname()}:${process.pid}`,
    // BullMQ reads an undefined option as a value, not as its default.
    ...defined({ lockDuration: options.lockDuration, stalledInterval: options.stalledInterval, maxStalledCount: options.maxStalledCount }),
  });
  worker.on('error', onError);
  // BullMQ itself failed the job (it stalled too often: the workers running it died), so no
  // processor of ours replied: tell its producer, as a worker exit.
  worker.on('failed', (job, error) => {
    // Only BullMQ's own verdicts (an UnrecoverableError: stalled too often): every other failure
    // is BullMQ's bookkeeping after our processor, which never throws, already replied.
    if (job === undefined || error.name !== 'UnrecoverableError') return;
    const reason = `remote worker lost: ${error.message}`;
    answer(job.id, [Reply.Exited, 0, { exitCode: null, signal: null, reason, error: undefined }]);
  });
  subscriber.on('message', (channel: string, message: string) => {
    if (channel === channels.credit) return credits.hear(message);
    const jobId = message;
    if (producerOf(jobId) === undefined) return; // not a job id: nothing to keep
    const cancel = running.get(jobId);
    if (cancel !== undefined) cancel('the caller cancelled the task');
    else cancels.add(jobId);
  });
  try {
    await subscriber.connect();
    await subscriber.subscribe(channels.cancel, channels.credit);
    const replies = (await worker.getBackend().client) as unknown as Redis;
    push = replyPusher(replies, REPLY_TTL_MS);
    // For producers' typed handles: which tasks stream, as the local pool learned at warm-up.
    await replies.set(generatorsKey(prefix, queue), JSON.stringify([...(pool[streamTaskNames] ?? [])]));
    await worker.waitUntilReady();
  } catch (error) {
    await Promise.allSettled([worker.close(), pool.destroy()]);
    subscriber.disconnect();
    cancels.stop();
    throw error;
  }
  worker.run().catch(onError);

  let closing: Promise<void> | undefined;
  return {
    queue,
    stats: () => pool.stats(),
    close: () =>
      (closing ??= (async () => {
        await worker.close(); // waits for the active jobs, and for their replies: sent before their completion
        await pool.close();
        subscriber.disconnect();
        cancels.stop();
      })()),
  };
}

type Answer = (jobId: string | undefined, entry: ReplyMessage | [typeof Reply.Progress, unknown]) => void;

/** What cancels each job running here, by job id, from its start until its reply is sent. */
type RunningJobs = Map<string, (reason: unknown) => void>;

/** What every job shares on this worker. */
interface JobContext {
  cancels: EarlyCancels;
  running: RunningJobs;
  credits: StreamCredits;
  answer: Answer;
  /** Writes an encoded entry to the reply list of the job's producer, ahead of anything the worker sends next. */
  send: (jobId: string | undefined, entry: Buffer) => void;
  onError: (error: unknown) => void;
}

/**
 * Runs one job and replies to its producer before BullMQ marks it completed, so that a job gone
 * from Redis has always had its reply written. Returns nothing: the reply never travels in the
 * queue's event stream, which every listener of the queue reads.
 */
async function runJob(
  pool: Pool,
  job: Job,
  limit: number,
  { cancels, running, credits, answer, send, onError }: JobContext,
): Promise<void> {
  if (producerOf(job.id) === undefined) {
    onError(new Error(`refused job ${quoted(String(job.id))}: its id names no producer (it was not added by an offload pool)`));
    return;
  }
  const refusal = refuse(job, limit);
  if (refusal !== undefined) {
    onError(new Error(`refused job ${quoted(String(job.id))}: ${refusal.message}`));
    answer(job.id, [Reply.Failed, 0, encodeError(refusal)]);
    return;
  }
  if (cancels.take(job.id!)) {
    answer(job.id, [Reply.Failed, 0, encodeError(new AbortError('cancelled before it started'))]);
    return;
  }
  let args: unknown[];
  let highWaterMark: number | undefined;
  try {
    args = decodeArgs(job.data, limit);
    highWaterMark = decodeStreamCredit(job.data);
  } catch (error) {
    answer(job.id, [Reply.Failed, 0, encodeError(error)]);
    return;
  }
  if (highWaterMark !== undefined && (job.stalledCounter > 0 || job.attemptsStarted > 1)) {
    // BullMQ runs a stalled job again; a stream's consumer already has items from the first run,
    // which a second would repeat: its worker was lost, as a thread's would be.
    const reason = 'remote worker lost: the worker streaming this job stopped answering (a stream is not run again)';
    answer(job.id, [Reply.Exited, 0, { exitCode: null, signal: null, reason, error: undefined }]);
    return;
  }
  const began = performance.now();
  let reply: ReplyMessage;
  try {
    const onProgress = (value: unknown): void => answer(job.id, [Reply.Progress, value]);
    // The caller's trace and request context go on to the local thread as they came.
    const carried = decodeCarried(job.data, limit);
    let value: unknown;
    const jobId = job.id!;
    if (highWaterMark === undefined) {
      const options = { onProgress, [carriedContext]: carried, [cancelHook]: (cancel: (reason: unknown) => void) => void running.set(jobId, cancel) };
      value = await pool.run(job.name, args, options);
    } else {
      // A stream waits for credit as well as for its task: a signal reaches both.
      const controller = new AbortController();
      running.set(jobId, (reason) => controller.abort(reason));
      const stream = { jobId, task: job.name, args, highWaterMark, signal: controller.signal, onProgress, carried, limit, send: (entry: Buffer) => send(jobId, entry) };
      await forwardStream(pool, credits, stream);
    }
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
  running.delete(job.id!);
  answer(job.id, reply);
}

/**
 * The whole job is bounded, not only its arguments: a job carrying anything offload does not
 * write (an extra field, an overlong name) is refused before it is decoded or run.
 */
function refuse(job: Job, limit: number): Error | undefined {
  if (typeof job.name !== 'string' || job.name.length > MAX_TASK_NAME) return new TypeError('the job name is not a task name');
  const data = job.data as unknown;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return undefined; // decodeArgs says why
  const extra = Object.keys(data).filter((key) => !JOB_FIELDS.has(key));
  if (extra.length > 0) return new TypeError(`the job carries fields offload does not write (${extra.slice(0, 3).map(quoted).join(', ')})`);
  // Arguments and carried context together, as the pool bounds them (base64: 4 chars, 3 bytes).
  const { args, ctx } = data as { args?: unknown; ctx?: unknown };
  const size = Math.floor(((typeof args === 'string' ? args.length : 0) + (typeof ctx === 'string' ? ctx.length : 0)) * 3 / 4);
  if (size > limit + 2) return new PayloadTooLargeError(typeof ctx === 'string' ? 'context' : 'args', size, limit);
  return undefined;
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
 * begins it. Anyone who can publish on the channel can send anything, so only job ids are kept,
 * at most EARLY_CANCEL_MAX of them, each for EARLY_CANCEL_MS, pruned on a timer.
 */
class EarlyCancels {
  readonly #ids = new Map<string, number>();
  readonly #pruner = setInterval(() => this.#prune(), EARLY_CANCEL_MS / 4).unref();

  add(jobId: string): void {
    if (this.#ids.size >= EARLY_CANCEL_MAX) this.#ids.delete(this.#ids.keys().next().value!);
    this.#ids.set(jobId, Date.now());
  }

  take(jobId: string): boolean {
    return this.#ids.delete(jobId);
  }

  get size(): number {
    return this.#ids.size;
  }

  stop(): void {
    clearInterval(this.#pruner);
  }

  #prune(): void {
    const now = Date.now();
    for (const [id, at] of this.#ids) {
      if (now - at < EARLY_CANCEL_MS) break; // insertion order: the rest are newer
      this.#ids.delete(id);
    }
  }
}
