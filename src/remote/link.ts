/**
 * A pool's one connection to its queue in Redis: it adds jobs, removes or cancels them, and
 * hears every job's end through ONE shared `QueueEvents` listener, which hands it to the slot
 * waiting for that job id. Results are taken from the completion event itself, never read back
 * from the job: jobs are removed on completion (`removeOnComplete`), and reading a removed job
 * races with its removal (BullMQ's `waitUntilFinished()` fails with "Missing key for job").
 *
 * Events are read from the id the stream had before the first job was added, so no completion
 * can slip between adding a job and the first read. After a reconnection, jobs may have been
 * lost (Redis restarted without its data): each job still awaited is checked, and one that is
 * neither in Redis nor finished in the event stream fails with `ERR_OFFLOAD_CONNECTION`.
 */
import type { ConnectionOptions, Queue, QueueEvents } from 'bullmq';
import type { Redis, RedisOptions } from 'ioredis';
import { ConnectionError } from '../errors.js';
import { cancelChannel, type JobData } from './codec.js';
import type { ResolvedRemoteOptions } from './options.js';

/** What a slot hears about the job it waits for. */
export interface JobListener {
  completed(returnValue: unknown): void;
  /** BullMQ failed the job itself: it stalled too often (its workers died), for instance. */
  failed(reason: string): void;
  /** Someone removed the job from the queue. */
  removed(): void;
  /** The running task called `progress(value)` (not the end: the job is still awaited). */
  progress(data: unknown): void;
  lost(error: ConnectionError): void;
}

interface Waiter {
  listener: JobListener;
  /** When Redis confirmed the job (`performance.now()`); 0 while its `add` is in flight. */
  confirmedAt: number;
  /** A worker took it. */
  isActive: boolean;
}

const WAITING_POLL_MS = 200;
const SCAN_PAGE = 500;

export class RemoteLink {
  /**
   * Jobs of other producers waiting in the queue, refreshed every WAITING_POLL_MS while
   * counted. This pool's own jobs are not counted: each already holds one of its slots.
   */
  waiting = 0;
  readonly #options: ResolvedRemoteOptions;
  readonly #commands: Redis;
  /** Created once connected: BullMQ would otherwise connect the client itself, racing ours. */
  #queue!: Queue;
  #eventsKey = '';
  readonly #channel: string;
  readonly #awaited = new Map<string, Waiter>();
  readonly #firstConnection: Promise<void>;
  #events: QueueEvents | undefined;
  #listening: Promise<void> | undefined;
  #lastEventId = '0-0';
  #hasBeenReady = false;
  #lastError: unknown;
  #waitingTimer: NodeJS.Timeout | undefined;
  #isClosed = false;

  readonly #drivers: Drivers;

  /** Opens a link; bullmq and ioredis load only now, so pools of other executors never need them. */
  static async open(options: ResolvedRemoteOptions, countWaiting: boolean): Promise<RemoteLink> {
    return new RemoteLink(options, countWaiting, await loadDrivers());
  }

  private constructor(options: ResolvedRemoteOptions, countWaiting: boolean, drivers: Drivers) {
    this.#drivers = drivers;
    this.#options = options;
    const { url, ...rest } = options.connection;
    // Fail fast while Redis is unreachable: a call refused now can be retried or shed by the
    // caller; one parked in a client-side buffer would wait for who knows how long.
    const settings = { ...rest, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 };
    const { Redis } = drivers;
    this.#commands = url === undefined ? new Redis(settings as RedisOptions) : new Redis(url, settings as RedisOptions);
    this.#commands.on('error', (error: unknown) => {
      this.#lastError = error;
    });
    this.#commands.on('ready', () => {
      if (this.#hasBeenReady) void this.#verify(performance.now());
      this.#hasBeenReady = true;
    });
    this.#channel = cancelChannel(options.prefix, options.queue);
    this.#firstConnection = this.#commands.connect().then(
      () => undefined,
      (error: unknown) => {
        throw new ConnectionError(`Cannot connect to Redis: ${describe(error)}`, error);
      },
    );
    this.#firstConnection.catch(() => {}); // Observed by the calls that need it.
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
    this.#listening ??= this.#listen().catch((error: unknown) => {
      this.#listening = undefined;
      throw new ConnectionError(`Cannot listen to the queue's events: ${describe(error)}`, error);
    });
    await this.#listening;
  }

  /** Adds a job whose end `listener` hears; rejects with `ERR_OFFLOAD_CONNECTION`. */
  async add(jobId: string, task: string, data: JobData, listener: JobListener): Promise<void> {
    const entry: Waiter = { listener, confirmedAt: 0, isActive: false };
    this.#awaited.set(jobId, entry);
    try {
      await this.ready();
      await this.#queue.add(task, data, { jobId, removeOnComplete: true, removeOnFail: true, attempts: 1 });
      entry.confirmedAt = performance.now();
    } catch (error) {
      this.#awaited.delete(jobId);
      if (error instanceof ConnectionError) throw error;
      throw new ConnectionError(`Cannot add the job to Redis: ${describe(error)}`, error);
    }
  }

  /** Stops listening for a job (its caller no longer waits). */
  forget(jobId: string): void {
    this.#awaited.delete(jobId);
  }

  /**
   * Cancels a job: removes it while it waits (resolves `true`), or asks the worker running it
   * to stop its task (resolves `false`; the worker then completes it as aborted).
   */
  async cancel(jobId: string): Promise<boolean> {
    if ((await this.#queue.remove(jobId)) === 1) return true;
    // Locked: a worker holds it. Workers hear this even before they start the job.
    await this.#commands.publish(this.#channel, jobId);
    return false;
  }

  get hasAwaitedJobs(): boolean {
    return this.#awaited.size > 0;
  }

  async close(): Promise<void> {
    if (this.#isClosed) return;
    this.#isClosed = true;
    clearTimeout(this.#waitingTimer);
    await this.#events?.close().catch(() => {});
    if (this.#eventsKey !== '') await this.#queue.close().catch(() => {});
    this.#commands.disconnect();
  }

  /** Starts the shared events listener at the stream's current end. */
  async #listen(): Promise<void> {
    if (this.#eventsKey === '') {
      this.#queue = new this.#drivers.Queue(this.#options.queue, { connection: this.#commands, prefix: this.#options.prefix });
      this.#queue.on('error', (error: unknown) => {
        this.#lastError = error;
      });
      this.#eventsKey = this.#queue.keys.events!;
    }
    const last = await this.#commands.xrevrange(this.#eventsKey, '+', '-', 'COUNT', 1);
    this.#lastEventId = last[0]?.[0] ?? '0-0';
    const { url, ...rest } = this.#options.connection;
    const events = new this.#drivers.QueueEvents(this.#options.queue, {
      connection: (url === undefined ? rest : { ...rest, url }) as ConnectionOptions,
      prefix: this.#options.prefix,
      lastEventId: this.#lastEventId,
    });
    events.on('error', (error: unknown) => {
      this.#lastError = error;
    });
    events.on('completed', ({ jobId, returnvalue }, id) => this.#deliver(id, jobId, (listener) => listener.completed(returnvalue)));
    events.on('failed', ({ jobId, failedReason }, id) => this.#deliver(id, jobId, (listener) => listener.failed(failedReason)));
    events.on('removed', ({ jobId }, id) => this.#deliver(id, jobId, (listener) => listener.removed()));
    events.on('progress', ({ jobId, data }) => this.#awaited.get(jobId)?.listener.progress(data));
    events.on('active', ({ jobId }) => {
      const entry = this.#awaited.get(jobId);
      if (entry !== undefined) entry.isActive = true;
    });
    this.#events = events;
    await events.waitUntilReady();
  }

  #deliver(eventId: string, jobId: string, tell: (listener: JobListener) => void): void {
    if (isAfter(eventId, this.#lastEventId)) this.#lastEventId = eventId;
    const entry = this.#awaited.get(jobId);
    if (entry === undefined) return; // another producer's job, or one no longer awaited
    this.#awaited.delete(jobId);
    tell(entry.listener);
  }

  /**
   * After a reconnection: a confirmed job that is no longer in Redis either finished (removed on
   * completion: its end is in the event stream) or was lost with Redis's data.
   */
  async #verify(reconnectedAt: number): Promise<void> {
    const candidates = [...this.#awaited].filter(([, entry]) => entry.confirmedAt > 0 && entry.confirmedAt < reconnectedAt);
    if (candidates.length === 0) return;
    try {
      const pipeline = this.#commands.pipeline();
      for (const [jobId] of candidates) pipeline.exists(`${this.#options.prefix}:${this.#options.queue}:${jobId}`);
      const exists = (await pipeline.exec()) ?? [];
      const missing = new Set(candidates.filter((_, i) => exists[i]?.[1] === 0).map(([jobId]) => jobId));
      if (missing.size > 0) await this.#settleFromStream(missing);
      for (const jobId of missing) {
        const entry = this.#awaited.get(jobId);
        if (entry === undefined) continue;
        this.#awaited.delete(jobId);
        entry.listener.lost(new ConnectionError('The job was lost from Redis (did it restart without its data?); the task may or may not have run'));
      }
    } catch {
      // Disconnected again: the next reconnection checks again.
    }
  }

  /** Reads the event stream past the last event heard, settling the missing jobs found there. */
  async #settleFromStream(missing: Set<string>): Promise<void> {
    let from = `(${this.#lastEventId}`;
    for (;;) {
      const entries = await this.#commands.xrange(this.#eventsKey, from, '+', 'COUNT', SCAN_PAGE);
      for (const [id, fields] of entries) {
        const event = Object.fromEntries(pairs(fields));
        const jobId = event.jobId;
        if (jobId === undefined || !missing.has(jobId)) continue;
        if (event.event === 'completed') {
          missing.delete(jobId);
          const value: unknown = JSON.parse(event.returnvalue ?? 'null');
          this.#deliver(id, jobId, (listener) => listener.completed(value));
        } else if (event.event === 'failed') {
          missing.delete(jobId);
          this.#deliver(id, jobId, (listener) => listener.failed(event.failedReason ?? 'failed'));
        }
      }
      if (entries.length < SCAN_PAGE) return;
      from = `(${entries.at(-1)![0]}`;
    }
  }

  #countWaiting(): void {
    const poll = (): void => {
      this.#waitingTimer = setTimeout(async () => {
        if (this.#commands.status === 'ready' && this.#listening !== undefined) {
          try {
            const count = await this.#queue.count();
            let own = 0;
            for (const entry of this.#awaited.values()) if (entry.confirmedAt > 0 && !entry.isActive) own++;
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

function pairs(fields: string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < fields.length; i += 2) out.push([fields[i]!, fields[i + 1]!]);
  return out;
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  return error === undefined ? 'no connection' : String(error);
}

interface Drivers {
  Queue: typeof Queue;
  QueueEvents: typeof QueueEvents;
  Redis: typeof Redis;
}

let drivers: Promise<Drivers> | undefined;

function loadDrivers(): Promise<Drivers> {
  drivers ??= Promise.all([import('bullmq'), import('ioredis')]).then(([bullmq, ioredis]) => ({
    Queue: bullmq.Queue,
    QueueEvents: bullmq.QueueEvents,
    Redis: ioredis.Redis,
  }));
  return drivers;
}

/** Orders stream ids (`<ms>-<seq>`), which do not compare as strings. */
function isAfter(id: string, than: string): boolean {
  const [ms, seq] = id.split('-').map(Number) as [number, number];
  const [thanMs, thanSeq] = than.split('-').map(Number) as [number, number];
  return ms > thanMs || (ms === thanMs && seq > thanSeq);
}
