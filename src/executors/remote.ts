/**
 * The remote executor: the pool's workers are virtual slots, each holding at most one BullMQ job
 * at a time (`maxDepth: 1`); there are `maxInFlight` of them, so the pool's queue, deadlines,
 * priorities, load shedding and statistics work unchanged. The jobs
 * run in `offload worker` processes, anywhere, each in a local thread pool of its own.
 *
 * A slot speaks the same messages as a thread: `Run` adds a job, `Stream` adds a generator job
 * carrying its credit, `Pull` grants it more, `Cancel` removes it or stops it where it runs;
 * items come back as `Items`, the job's end as `Results`. When the worker thread that ran a job
 * exits mid-task, the call fails with `ERR_OFFLOAD_WORKER_EXITED` but the slot lives on: that
 * news comes from Redis, where anyone who can write may forge it, so it must not count a crash
 * or pause the pool's respawns (the worker's own pool does both for the thread it lost).
 */
import type { TransferListItem } from 'node:worker_threads';
import { crypto } from '../builtins.js';
import { AbortError, ConnectionError, WorkerExitedError } from '../errors.js';
import { decodeError, encodeError } from '../protocol/error-codec.js';
import { FromWorker, Status, ToWorker, splitAddress, type MainMessage, type WorkerInit } from '../protocol/messages.js';
import { detachTransferred, refuseUnmovable } from '../transfer.js';
import { encodeArgs, Reply, replyList, type JobData, type ReplyEntry } from '../remote/codec.js';
import { atMost } from '../remote/at-most.js';
import { RemoteLink, type JobListener } from '../remote/link.js';
import type { ResolvedRemoteOptions } from '../remote/options.js';
import type { Executor, WorkerEvents, WorkerExit, WorkerHandle } from './executor.js';
// Nothing used: the pool loads this file on demand (see ./index.ts), and reaching the pool from
// here too keeps the bundler from splitting the library's chunk in two by who reaches what.
import '../pool/pool.js';

/** How long an idle pool keeps its Redis connections, so that a steady trickle of calls does not reconnect each time. */
const LINGER_MS = 2000;
/**
 * Most an ended slot waits for its job's cancellation to reach Redis before it reports its exit:
 * an unresponsive Redis (frozen, partitioned without a reset) must not hold `close()` or `destroy()`.
 */
const ABANDON_WAIT_MS = 1000;

export class RemoteExecutor implements Executor {
  readonly sharesMemory = false;
  readonly maxDepth = 1;
  readonly #options: ResolvedRemoteOptions;
  readonly #countWaiting: boolean;
  /** Job ids are `<producer>-<n>`: unique across producers, known before the job is added. */
  readonly #producerId = crypto().randomUUID();
  #nextJob = 0;
  #link: RemoteLink | undefined;
  #opening: Promise<RemoteLink> | undefined;
  #linkClosing: Promise<void> = Promise.resolve();
  #slots = 0;
  #busySlots = 0;
  #linger: NodeJS.Timeout | undefined;

  /** The pool checked first that the optional peers `bullmq` and `ioredis` are installed. */
  constructor(options: ResolvedRemoteOptions, countWaiting: boolean) {
    this.#options = options;
    this.#countWaiting = countWaiting;
  }

  get options(): ResolvedRemoteOptions {
    return this.#options;
  }

  waiting(): number {
    return this.#link?.waiting ?? 0;
  }

  spawn(_init: WorkerInit, events: WorkerEvents): WorkerHandle {
    this.#slots++;
    return new RemoteSlot(this, events);
  }

  nextJobId(): string {
    this.#nextJob++;
    return `${this.#producerId}-${this.#nextJob}`;
  }

  /** The shared link, opened on demand (after the previous one, if any, finished closing). */
  async link(): Promise<RemoteLink> {
    await this.#linkClosing;
    // A link opened once the last slot has ended (a late cancel, an abandon that outlived its
    // wait) would never be closed, and its connections would keep the process alive.
    if (this.#slots === 0) throw new ConnectionError('The pool has closed its connection to Redis');
    if (this.#link !== undefined) return this.#link;
    this.#opening ??= RemoteLink.open(this.#options, replyList(this.#options.prefix, this.#options.queue, this.#producerId), this.#countWaiting).then(
      (link) => {
        this.#opening = undefined;
        this.#link = link;
        return link;
      },
      (error: unknown) => {
        this.#opening = undefined;
        throw error;
      },
    );
    return this.#opening;
  }

  /** Slots with work keep the connections; once all are idle for a while, they close. */
  setBusy(isBusy: boolean): void {
    this.#busySlots += isBusy ? 1 : -1;
    clearTimeout(this.#linger);
    this.#linger = undefined;
    if (this.#busySlots === 0 && this.#link !== undefined) {
      // Unreferenced: an idle pool must not keep the process alive, yet it stays alive until
      // the connections close, so the timer fires all the same.
      this.#linger = setTimeout(() => this.#closeLink(), LINGER_MS).unref();
    }
  }

  /** A slot ended; the last one closes the connections before its exit is reported. */
  release(): Promise<void> {
    this.#slots--;
    if (this.#slots > 0) return Promise.resolve();
    clearTimeout(this.#linger);
    // No slot is left, so nothing can wait for a job any more: close even with jobs still
    // awaited (their abandoning gave up on an unresponsive Redis), or the reply loop lives on.
    return this.#closeLink(true);
  }

  #closeLink(ending = false): Promise<void> {
    if (this.#opening !== undefined) {
      // Still opening: close it once open, unless work arrived meanwhile.
      this.#linkClosing = this.#opening.then(
        () => (ending || this.#busySlots === 0 ? this.#closeLink(ending) : undefined),
        () => undefined,
      );
      return this.#linkClosing;
    }
    const link = this.#link;
    if (link === undefined || (!ending && link.hasAwaitedJobs)) return this.#linkClosing;
    this.#link = undefined;
    this.#linkClosing = link.close();
    return this.#linkClosing;
  }
}

interface Job {
  taskId: number;
  jobId: string;
  /** A stream's credit granted so far, its highWaterMark included; 0 for a plain job. */
  granted: number;
  /** Settles once Redis has the job (or refused it). */
  added: Promise<boolean>;
}

class RemoteSlot implements WorkerHandle {
  readonly #executor: RemoteExecutor;
  readonly #events: WorkerEvents;
  #job: Job | undefined;
  #isBusy = false;
  #isEnded = false;

  constructor(executor: RemoteExecutor, events: WorkerEvents) {
    this.#executor = executor;
    this.#events = events;
    // Ready once Redis answered, or failed to: then each call fails fast with ERR_OFFLOAD_CONNECTION.
    void executor
      .link()
      .then(async (link) => {
        await link.ready();
        return link.generators();
      })
      .catch(() => undefined)
      .then((generators) => {
        if (!this.#isEnded) events.message([FromWorker.Ready, generators]);
      });
  }

  post(message: MainMessage, transfer: readonly TransferListItem[]): void {
    switch (message[0]) {
      case ToWorker.Run:
        if (message.length !== 4) throw new Error('A remote slot takes one task at a time');
        this.#run(message[1] as number, ...splitAddress(message[2]), message[3] as unknown[], transfer, 0);
        break;
      case ToWorker.Stream:
        this.#run(message[1], ...splitAddress(message[2]), message[3], transfer, message[4]);
        break;
      case ToWorker.Pull: {
        const job = this.#job;
        if (job?.taskId !== message[1]) break;
        job.granted += message[2];
        // Items arrived, so the job was added and the link is open.
        void this.#executor.link().then((link) => link.grant(job.jobId, job.granted), () => {});
        break;
      }
      case ToWorker.Cancel:
        if (this.#job?.taskId === message[1]) void this.#cancel(this.#job);
        break;
      case ToWorker.Close:
        // Nothing to tear down here: teardown() runs in the remote workers when they stop.
        queueMicrotask(() => this.#events.message([FromWorker.Closed]));
        break;
    }
  }

  ref(): void {
    if (!this.#isBusy) {
      this.#isBusy = true;
      this.#executor.setBusy(true);
    }
  }

  unref(): void {
    if (this.#isBusy) {
      this.#isBusy = false;
      this.#executor.setBusy(false);
    }
  }

  terminate(): void {
    this.#end({ exitCode: null, signal: null });
  }

  // --- the job's end, from the shared events listener ----------------------------------------

  /** Hears one job's replies; anything about a job the slot no longer holds is dropped. */
  #listenerFor(job: Job): JobListener {
    return {
      reply: (entry) => this.#job === job && this.#replied(job, entry),
      lost: (error) => this.#reply(job, 0, Status.Failed, encodeError(error)),
    };
  }

  #replied(job: Job, entry: ReplyEntry): void {
    if (entry[0] === Reply.Progress) {
      this.#events.message([FromWorker.Progress, job.taskId, entry[1]]);
    } else if (entry[0] === Reply.Items) {
      if (job.granted > 0) this.#events.message([FromWorker.Items, job.taskId, ...entry[1]]);
    } else if (entry[0] === Reply.Exited) {
      const { exitCode, signal, reason, error } = entry[2];
      const exited = new WorkerExitedError({ exitCode, signal, reason }, error === undefined ? undefined : decodeError(error));
      this.#reply(job, entry[1], Status.Failed, encodeError(exited));
    } else {
      this.#reply(job, entry[1], entry[0] === Reply.Ok ? Status.Ok : Status.Failed, entry[2]);
    }
  }

  // --- internals -----------------------------------------------------------------------------

  /** Adds a job; `credit` > 0 makes it a stream that may send that many items ahead. */
  #run(taskId: number, task: string, carried: unknown, args: unknown[], transfer: readonly TransferListItem[], credit: number): void {
    // Synchronous, so that the pool turns a refusal into this call's error (and only this one's).
    const data = encodeArgs(args, this.#executor.options.maxPayloadBytes, carried);
    if (credit > 0) data.s = credit;
    refuseUnmovable(transfer, 'options.transfer', 'a remote worker');
    // Moved means moved, as with threads: the sender keeps no usable copy.
    detachTransferred(transfer);
    const job: Job = { taskId, jobId: this.#executor.nextJobId(), granted: credit, added: Promise.resolve(false) };
    this.#job = job;
    job.added = this.#add(job, task, data);
  }

  async #add(job: Job, task: string, data: JobData): Promise<boolean> {
    try {
      const link = await this.#executor.link();
      await link.add(job.jobId, task, data, this.#listenerFor(job));
      return true;
    } catch (error) {
      this.#reply(job, 0, Status.Failed, encodeError(error));
      return false;
    }
  }

  async #cancel(job: Job): Promise<void> {
    if (!(await job.added)) return;
    try {
      const link = await this.#executor.link();
      if (await link.cancel(job.jobId)) {
        link.forget(job.jobId);
        if (this.#job === job) this.#reply(job, 0, Status.Failed, encodeError(new AbortError('cancelled before it started')));
      }
    } catch {
      // Redis unreachable: the pool's grace period ends the slot if no answer comes.
    }
  }

  #reply(job: Job, busyMs: number, status: number, value: unknown): void {
    if (this.#job !== job) return;
    this.#job = undefined;
    this.#events.message([FromWorker.Results, busyMs, job.taskId, status, value]);
  }

  /** Ends the slot: abandons its job (cancelling it), then reports the exit. */
  #end(exit: WorkerExit): void {
    if (this.#isEnded) return;
    this.#isEnded = true;
    this.unref();
    const job = this.#job;
    this.#job = undefined;
    const abandoned = job === undefined ? Promise.resolve() : atMost(this.#abandon(job), ABANDON_WAIT_MS);
    void abandoned.then(() => this.#executor.release()).then(() => this.#events.exit(exit));
  }

  async #abandon(job: Job): Promise<void> {
    if (!(await job.added)) return;
    try {
      const link = await this.#executor.link();
      link.forget(job.jobId);
      await link.cancel(job.jobId);
    } catch {
      // Best effort: the job may still run; its result is ignored.
    }
  }
}
