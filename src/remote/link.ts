/**
 * A pool's connection to its queue in Redis. It adds jobs with BullMQ (which keeps the queue,
 * its locks, stalled-job recovery and delivery), removes or cancels them, and hears how each
 * ended from its OWN reply list: the workers push every reply there, and one blocking read on a
 * dedicated connection takes them out in batches. So a producer reads only its own results,
 * each once; a reply is gone from Redis once read, and a list nobody reads expires. Nothing
 * goes through the queue's event stream, which every listener would have to read.
 *
 * A job that leaves Redis without a reply (Redis restarted without its data, someone removed
 * it, the worker could not reply) would otherwise be awaited forever: jobs awaited for a while
 * are checked, and one missing twice in a row fails with `ERR_OFFLOAD_CONNECTION`. Twice,
 * because a worker writes the reply before BullMQ removes the job, so a reply may still be on
 * its way when the job is first found gone.
 */
import type { Queue } from 'bullmq';
import type { Redis, RedisOptions } from 'ioredis';
import { ConnectionError } from '../errors.js';
import { cancelChannel, creditChannel, REPLY_TTL_MS, decodeEntry, decodeGenerators, generatorsKey, Reply, streamLiveness, type JobData, type ReplyEntry } from './codec.js';
import type { ResolvedRemoteOptions } from './options.js';
import { atMost } from './at-most.js';

/** Longest `close()` waits for Redis to tidy up before it ends the connections anyway. */
const CLOSE_WAIT_MS = 1000;

/** What a slot hears about the job it waits for. */
export interface JobListener {
  /** A progress value, streamed items, or the job's end (after which nothing more comes). */
  reply(entry: ReplyEntry): void;
  /** The job's end could not be read, or the job is gone from Redis without one. */
  lost(error: ConnectionError): void;
}

interface Waiter {
  listener: JobListener;
  /** When Redis confirmed the job (`performance.now()`); 0 while its `add` is in flight. */
  confirmedAt: number;
  /** When a check first found the job gone; 0 while it is in Redis. */
  missingSince: number;
}

const WAITING_POLL_MS = 200;
/** Jobs awaited this long are checked for, this often. */
const CHECK_MS = 1000;
/** Longest block of one read (s): a closing link stops it sooner, by disconnecting. */
const READ_BLOCK_S = 1;
const READ_BATCH = 512;
/** Pause before reading again after a failed read (Redis unreachable). */
const READ_RETRY_MS = 100;

/** How often a link renews its reply list's expiry. Internal: a test shortens it rather than wait 15 s. */
export const replyRenewal = { intervalMs: REPLY_TTL_MS / 4 };

export class RemoteLink {
  /**
   * Jobs of other producers waiting in the queue, refreshed every WAITING_POLL_MS while counted:
   * the queue's count less this pool's own jobs, each of which already holds one of its slots.
   */
  waiting = 0;
  readonly #options: ResolvedRemoteOptions;
  readonly #commands: Redis;
  /** Blocks on the reply list; nothing else may use it. */
  readonly #reader: Redis;
  readonly #replyList: string;
  /** Created once connected: BullMQ would otherwise connect the client itself, racing ours. */
  #queue: Queue | undefined;
  readonly #channel: string;
  readonly #creditChannel: string;
  #generators: Promise<string[] | undefined> | undefined;
  readonly #awaited = new Map<string, Waiter>();
  /** The credit granted so far to each stream this link awaits, repeated every `keepaliveMs`. */
  readonly #streams = new Map<string, number>();
  readonly #firstConnection: Promise<void>;
  #reading: Promise<void> | undefined;
  #hasBeenReady = false;
  #lastError: unknown;
  #waitingTimer: NodeJS.Timeout | undefined;
  readonly #checkTimer: NodeJS.Timeout;
  readonly #renewTimer: NodeJS.Timeout;
  readonly #keepaliveTimer: NodeJS.Timeout;
  #isChecking = false;
  #isClosed = false;
  readonly #drivers: Drivers;

  /** Opens a link; bullmq and ioredis load only now, so pools of other executors never need them. */
  static async open(options: ResolvedRemoteOptions, replyList: string, countWaiting: boolean): Promise<RemoteLink> {
    return new RemoteLink(options, replyList, countWaiting, await loadDrivers());
  }

  private constructor(options: ResolvedRemoteOptions, replyList: string, countWaiting: boolean, drivers: Drivers) {
    this.#drivers = drivers;
    this.#options = options;
    this.#replyList = replyList;
    const { url, ...rest } = options.connection;
    // Fail fast while Redis is unreachable: a call refused now can be retried or shed by the
    // caller; one parked in a client-side buffer would wait for who knows how long.
    // `disconnectTimeout`: once closed (or between reconnections) a socket still connecting or
    // never acknowledged is destroyed on the next turn, not after ioredis's 2 s timer, which
    // otherwise held the process open that long after close() or destroy().
    const settings = { ...rest, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, disconnectTimeout: 0 };
    const { Redis } = drivers;
    const client = (extra: Partial<RedisOptions>): Redis => {
      const merged = { ...settings, ...extra } as RedisOptions;
      const redis = url === undefined ? new Redis(merged) : new Redis(url, merged);
      redis.on('error', (error: unknown) => {
        this.#lastError = error;
      });
      return redis;
    };
    // No auto-pipelining: each flush would build an ioredis pipeline, which copies every Lua
    // script BullMQ defined on the connection (dozens), costing more than the writes it saves;
    // under load the socket coalesces writes by itself.
    this.#commands = client({});
    this.#reader = client({});
    this.#commands.on('ready', () => {
      if (this.#hasBeenReady) void this.#check(true);
      this.#hasBeenReady = true;
    });
    this.#channel = cancelChannel(options.prefix, options.queue);
    this.#creditChannel = creditChannel(options.prefix, options.queue);
    this.#firstConnection = Promise.all([this.#commands.connect(), this.#reader.connect()]).then(
      () => undefined,
      (error: unknown) => {
        throw new ConnectionError(`Cannot connect to Redis: ${describe(error)}`, error);
      },
    );
    this.#firstConnection.catch(() => {}); // Observed by the calls that need it.
    this.#checkTimer = setInterval(() => void this.#check(false), CHECK_MS).unref();
    // Workers set the expiry only on a list they create: one that never empties (replies come
    // faster than they are read) would otherwise expire under a live reader.
    this.#renewTimer = setInterval(() => {
      if (this.#commands.status === 'ready') this.#commands.pexpire(this.#replyList, REPLY_TTL_MS).catch(() => {});
    }, replyRenewal.intervalMs).unref();
    this.#keepaliveTimer = setInterval(() => this.#repeatGrants(), streamLiveness.keepaliveMs).unref();
    if (countWaiting) this.#countWaiting();
  }

  /** Resolves once the link can add jobs; rejects with `ERR_OFFLOAD_CONNECTION` when Redis is unreachable. */
  async ready(): Promise<void> {
    if (this.#isClosed) throw new ConnectionError('The connection to Redis is closed');
    if (this.#commands.status !== 'ready') {
      if (!this.#hasBeenReady) await this.#firstConnection;
      // Not narrowed: the status changed while awaiting.
      if ((this.#commands.status as string) !== 'ready') {
        throw new ConnectionError(`Redis is unreachable: ${describe(this.#lastError)}`, this.#lastError);
      }
    }
    if (this.#queue === undefined) {
      this.#queue = new this.#drivers.Queue(this.#options.queue, { connection: this.#commands, prefix: this.#options.prefix });
      this.#queue.on('error', (error: unknown) => {
        this.#lastError = error;
      });
      // BullMQ listens for the queue's closing once per add in flight: up to maxInFlight.
      this.#queue.setMaxListeners(this.#options.maxInFlight + 10);
    }
    // The loop catches everything it knows of; should it still end, the next call starts it again.
    this.#reading ??= this.#read().catch(() => {
      this.#reading = undefined;
    });
  }

  /** Adds a job whose replies `listener` hears; rejects with `ERR_OFFLOAD_CONNECTION`. */
  async add(jobId: string, task: string, data: JobData, listener: JobListener): Promise<void> {
    const entry: Waiter = { listener, confirmedAt: 0, missingSince: 0 };
    this.#awaited.set(jobId, entry);
    try {
      await this.ready();
      await this.#queue!.add(task, data, { jobId, removeOnComplete: true, removeOnFail: true, attempts: 1 });
      entry.confirmedAt = performance.now();
      if (data.s !== undefined && this.#awaited.get(jobId) === entry) this.#streams.set(jobId, data.s);
    } catch (error) {
      this.#stopAwaiting(jobId);
      if (error instanceof ConnectionError) throw error;
      throw new ConnectionError(`Cannot add the job to Redis: ${describe(error)}`, error);
    }
  }

  /** Stops listening for a job (its caller no longer waits). */
  forget(jobId: string): void {
    this.#stopAwaiting(jobId);
  }

  #stopAwaiting(jobId: string): void {
    this.#awaited.delete(jobId);
    this.#streams.delete(jobId);
  }

  /**
   * Cancels a job: removes it while it waits (resolves `true`), or asks the worker running it
   * to stop its task (resolves `false`; the worker then replies that it was aborted).
   */
  async cancel(jobId: string): Promise<boolean> {
    if ((await this.#queue!.remove(jobId)) === 1) return true;
    // Locked: a worker holds it. Workers hear this even before they start the job.
    await this.#commands.publish(this.#channel, jobId);
    return false;
  }

  /**
   * Lets a running stream send more items: `total` is all the credit granted so far, so a grant
   * lost with a dropped connection is made good by the next one, or by the repeat of the total
   * that follows within `keepaliveMs`.
   */
  grant(jobId: string, total: number): void {
    if (!this.#streams.has(jobId)) return; // ended meanwhile
    this.#streams.set(jobId, total);
    this.#commands.publish(this.#creditChannel, `${jobId} ${total}`).catch(() => {});
  }

  /** Repeats every running stream's total: grants lost to a reconnection, and "still here". */
  #repeatGrants(): void {
    if (this.#streams.size === 0 || this.#commands.status !== 'ready') return;
    const pipeline = this.#commands.pipeline();
    for (const [jobId, total] of this.#streams) pipeline.publish(this.#creditChannel, `${jobId} ${total}`);
    pipeline.exec().catch(() => {});
  }

  /** Which tasks are generators, as the queue's workers wrote; `undefined` until one has started. Kept once known. */
  generators(): Promise<string[] | undefined> {
    this.#generators ??= this.#commands.get(generatorsKey(this.#options.prefix, this.#options.queue)).then(decodeGenerators, () => undefined);
    const asked = this.#generators;
    void asked.then((names) => {
      if (names === undefined && this.#generators === asked) this.#generators = undefined;
    });
    return asked;
  }

  get hasAwaitedJobs(): boolean {
    return this.#awaited.size > 0;
  }

  async close(): Promise<void> {
    if (this.#isClosed) return;
    this.#isClosed = true;
    clearTimeout(this.#waitingTimer);
    clearInterval(this.#checkTimer);
    clearInterval(this.#renewTimer);
    clearInterval(this.#keepaliveTimer);
    this.#streams.clear();
    // Between reconnections (Redis down) a read sent before waits for a reconnection that
    // disconnect() calls off, and ioredis then never settles it: nothing to wait for.
    const isReaderDown = this.#reader.status === 'reconnecting';
    this.#reader.disconnect(); // ends a blocked read at once
    if (this.#reading !== undefined && !isReaderDown) await atMost(this.#reading, CLOSE_WAIT_MS);
    const queue = this.#queue;
    if (queue !== undefined) {
      // Replies of calls abandoned (cancelled or timed out) while their jobs ran. Bounded: a
      // frozen Redis never answers, and the connections are ended below whatever happened.
      const tidy = async (): Promise<void> => {
        await this.#commands.del(this.#replyList).catch(() => {});
        await queue.close().catch(() => {});
      };
      await atMost(tidy(), CLOSE_WAIT_MS);
      // BullMQ waits for the connection's end, which one between reconnections never reaches.
      if (this.#commands.status !== 'reconnecting') await atMost(queue.disconnect().catch(() => {}), CLOSE_WAIT_MS);
    }
    // The queue shares this connection and has ended it: disconnecting an ended ioredis client
    // arms a 2 s timer that nothing clears, which kept the process alive after close().
    if (this.#commands.status !== 'end') this.#commands.disconnect();
  }

  /**
   * The reply loop. It never throws: a failed read (Redis unreachable) is retried after a pause,
   * and an entry that cannot be decoded fails its call, if its job id can be read at all.
   */
  async #read(): Promise<void> {
    while (!this.#isClosed) {
      let batch: [Buffer, Buffer[]] | null;
      try {
        batch = await this.#reader.blmpopBuffer(READ_BLOCK_S, 1, this.#replyList, 'LEFT', 'COUNT', READ_BATCH);
      } catch (error) {
        if (this.#isClosed) return;
        this.#lastError = error;
        await new Promise((resolve) => setTimeout(resolve, READ_RETRY_MS));
        continue;
      }
      if (batch === null) continue;
      for (const bytes of batch[1]) this.#receive(bytes);
    }
  }

  #receive(bytes: Buffer): void {
    const decoded = decodeEntry(bytes);
    if (decoded === undefined) return; // names no job: not from an offload worker
    const waiter = this.#awaited.get(decoded.jobId);
    if (waiter === undefined) return; // a call no longer awaited (cancelled, timed out)
    try {
      if ('error' in decoded) {
        this.#stopAwaiting(decoded.jobId);
        waiter.listener.lost(new ConnectionError(`The reply from Redis could not be read (${decoded.error.message}); the task may or may not have run`, decoded.error));
        return;
      }
      const kind = decoded.entry[0];
      if (kind !== Reply.Progress && kind !== Reply.Items) this.#stopAwaiting(decoded.jobId);
      waiter.listener.reply(decoded.entry);
    } catch {
      // A listener's fault must not end the loop that every other call depends on.
    }
  }

  /** Fails the jobs found gone from Redis on two checks in a row, CHECK_MS apart or more. */
  async #check(afterReconnection: boolean): Promise<void> {
    if (this.#isChecking || this.#queue === undefined || this.#commands.status !== 'ready') return;
    const now = performance.now();
    const candidates: Array<[string, Waiter]> = [];
    for (const item of this.#awaited) {
      const confirmedAt = item[1].confirmedAt;
      if (confirmedAt > 0 && (afterReconnection || now - confirmedAt >= CHECK_MS)) candidates.push(item);
    }
    if (candidates.length === 0) return;
    this.#isChecking = true;
    try {
      const pipeline = this.#commands.pipeline();
      const prefix = `${this.#options.prefix}:${this.#options.queue}:`;
      for (const [jobId] of candidates) pipeline.exists(prefix + jobId);
      const exists = (await pipeline.exec()) ?? [];
      candidates.forEach(([jobId, waiter], i) => {
        if (exists[i]?.[0] !== null || exists[i]?.[1] !== 0) {
          waiter.missingSince = 0;
        } else if (waiter.missingSince === 0) {
          waiter.missingSince = now;
        } else if (now - waiter.missingSince >= CHECK_MS && this.#awaited.get(jobId) === waiter) {
          this.#stopAwaiting(jobId);
          waiter.listener.lost(new ConnectionError('The job is gone from Redis without a reply (did Redis restart without its data?); the task may or may not have run'));
        }
      });
    } catch {
      // Disconnected again: the next check, or the next reconnection, looks again.
    } finally {
      this.#isChecking = false;
    }
  }

  #countWaiting(): void {
    const poll = (): void => {
      this.#waitingTimer = setTimeout(async () => {
        if (this.#commands.status === 'ready' && this.#queue !== undefined) {
          try {
            const count = await this.#queue.count();
            let own = 0;
            for (const entry of this.#awaited.values()) if (entry.confirmedAt > 0) own++;
            this.waiting = Math.max(0, count - own);
          } catch {
            // Keep the last count; the connection's own errors are handled elsewhere.
          }
        }
        if (!this.#isClosed) poll();
      }, WAITING_POLL_MS);
      this.#waitingTimer.unref();
    };
    poll();
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  return error === undefined ? 'no connection' : String(error);
}

interface Drivers {
  Queue: typeof Queue;
  Redis: typeof Redis;
}

let drivers: Promise<Drivers> | undefined;

function loadDrivers(): Promise<Drivers> {
  drivers ??= Promise.all([import('bullmq'), import('ioredis')]).then(([bullmq, ioredis]) => ({
    Queue: bullmq.Queue,
    Redis: ioredis.Redis,
  }));
  return drivers;
}
