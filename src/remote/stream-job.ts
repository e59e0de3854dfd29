/**
 * A generator job on a remote worker. The generator runs in the worker's local pool, through
 * that pool's own `pool.stream()`, and its items are forwarded to the producer's reply list in
 * batches, only as far as the producer's credit allows: the job carries the stream's
 * `highWaterMark`, and the producer grants more on the credit channel as its consumer takes
 * items. So the reply list never holds more than `highWaterMark` items of a stream, and a slow
 * consumer makes the generator wait, on another machine.
 *
 * The local stream holds a few items ready (its own high-water mark), and those count too: the
 * credit spent on items sent is the producer's less what the local stream may hold, so the
 * generator runs at most `highWaterMark` items ahead of the consumer in all (see `localAhead`).
 */
import { AbortError, ConnectionError, NotCloneableError, PayloadTooLargeError } from '../errors.js';
import { itemRefusal } from '../protocol/clone-path.js';
import type { Pool } from '../pool/pool.js';
import { carriedContext } from '../tracing/call-trace.js';
import { encodeItems, MAX_STREAM_CREDIT, producerOf, serialises, streamLiveness } from './codec.js';

/** Most items in one reply-list entry: as many as a thread sends in one message. */
const BATCH = 256;
/** `<job id> <total credit granted>`, as `RemoteLink.grant` publishes it. */
const GRANT = /^(\S{1,128}) ([0-9]{1,15})$/;

/** How many items the local stream may hold ready: half the credit, so both hops stay busy. */
function localAhead(highWaterMark: number): number {
  return Math.max(1, Math.floor(highWaterMark / 2));
}

/** The credit of one stream running here. */
class Credit {
  /** All the credit the producer granted, its highWaterMark included. */
  granted: number;
  /** Items sent, plus those the local stream may hold ready. */
  used: number;
  /** When its producer was last heard from (`performance.now()`): a grant, or the repeat of one. */
  #heardAt = performance.now();
  #wake: (() => void) | undefined;

  constructor(highWaterMark: number) {
    this.granted = highWaterMark;
    // With a highWaterMark of 1 the local stream still holds one: the worker may then run 2 ahead.
    this.used = Math.min(localAhead(highWaterMark), highWaterMark - 1);
  }

  get available(): number {
    return this.granted - this.used;
  }

  /** How long since its producer was last heard from, in ms. */
  get silentFor(): number {
    return performance.now() - this.#heardAt;
  }

  grant(total: number): void {
    this.#heardAt = performance.now();
    // Totals, not increments: a grant lost with a dropped connection is made good by the next.
    if (total <= this.granted) return;
    this.granted = total;
    this.wake();
  }

  wake(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Resolves on the next grant or wake-up, after `timeoutMs`, or at once when `signal` has aborted. */
  wait(signal: AbortSignal | undefined, timeoutMs: number): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      let reading: NodeJS.Immediate | undefined;
      const done = (): void => {
        clearTimeout(timer);
        clearImmediate(reading);
        signal?.removeEventListener('abort', done);
        if (this.#wake === done) this.#wake = undefined;
        resolve();
      };
      // Past the timeout, what has arrived meanwhile is read first: a worker whose own event loop
      // stalled (frozen, paused in a debugger) wakes with its timers due and the producer's
      // repeats still unread in its socket, and must not take itself for the silent one.
      const timer = setTimeout(() => {
        reading = setImmediate(done);
      }, timeoutMs);
      this.#wake = done;
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}

/** The streams running on this worker, by job id, for the grants heard on the credit channel. */
export class StreamCredits {
  readonly #streams = new Map<string, Credit>();

  /** A message from the credit channel: anyone may publish there, so anything unexpected is ignored. */
  hear(message: string): void {
    const grant = GRANT.exec(message);
    if (grant === null || producerOf(grant[1]) === undefined) return;
    const total = Number(grant[2]);
    // Never more than a whole stream's worth beyond what it had: a forged total cannot unbound it.
    const credit = this.#streams.get(grant[1]!);
    if (credit !== undefined) credit.grant(Math.min(total, credit.granted + MAX_STREAM_CREDIT));
  }

  open(jobId: string, highWaterMark: number): Credit {
    const credit = new Credit(highWaterMark);
    this.#streams.set(jobId, credit);
    return credit;
  }

  close(jobId: string): void {
    this.#streams.delete(jobId);
  }
}

export interface StreamJob {
  jobId: string;
  task: string;
  args: unknown[];
  highWaterMark: number;
  signal: AbortSignal | undefined;
  onProgress: (value: unknown) => void;
  carried: unknown;
  limit: number;
  /** Writes an entry to the producer's reply list; writes go out in the order given. */
  send: (entry: Buffer) => void;
}

/** Runs a generator job to its end, forwarding its items; rejects as `pool.stream` would. */
export async function forwardStream(pool: Pool, credits: StreamCredits, job: StreamJob): Promise<void> {
  const credit = credits.open(job.jobId, job.highWaterMark);
  const options = { signal: job.signal, onProgress: job.onProgress, highWaterMark: localAhead(job.highWaterMark), [carriedContext]: job.carried };
  const local = pool.stream(job.task as never, job.args as never, options)[Symbol.asyncIterator]();
  let batch: unknown[] = [];
  /** Items sent so far, to name the one that cannot be sent. */
  let sent = 0;
  let refusal: unknown;
  let flushTimer: NodeJS.Immediate | undefined;
  const flush = (): void => {
    clearImmediate(flushTimer);
    flushTimer = undefined;
    const items = batch;
    batch = [];
    if (items.length === 0 || refusal !== undefined) return;
    try {
      for (const entry of encodeBatch(job.jobId, items, job.limit)) job.send(entry);
      sent += items.length;
    } catch (error) {
      refusal = error instanceof NotCloneableError ? sendUntilRefused(items) : error;
      credit.wake();
    }
  };
  /**
   * A batch holds an item that cannot be sent: the items before it still reach the consumer, one
   * by one, and the stream fails naming it (`item[41].conn`), as from a thread. Returns that error.
   */
  const sendUntilRefused = (items: unknown[]): unknown => {
    for (const item of items) {
      let entry: Buffer;
      try {
        entry = encodeItems(job.jobId, [item], job.limit);
      } catch (error) {
        return error instanceof NotCloneableError ? itemRefusal(item, sent, error.cause, serialises) : error;
      }
      job.send(entry);
      sent++;
    }
    return undefined;
  };
  try {
    for (;;) {
      if (refusal !== undefined) throw refusal;
      if (job.signal?.aborted) throw new AbortError(job.signal.reason);
      if (credit.available <= 0) {
        flush(); // may fail the stream, which then waits for nothing
        if (refusal !== undefined) continue;
        // Nobody left to grant more: the thread is freed rather than held for ever.
        const silence = streamLiveness.silenceMs - credit.silentFor;
        if (silence <= 0) throw new ConnectionError(`The stream's caller sent nothing for ${streamLiveness.silenceMs / 1000} s (it is gone, or its call ended): the stream was ended`);
        await credit.wait(job.signal, silence);
        continue;
      }
      const step = await local.next();
      if (step.done === true) break;
      credit.used++;
      batch.push(step.value);
      // Items the local stream already holds arrive within microtasks: they share one entry.
      if (batch.length >= BATCH) flush();
      else flushTimer ??= setImmediate(flush);
    }
    flush();
    if (refusal !== undefined) throw refusal;
  } catch (error) {
    // The items yielded before the error reach the consumer first, as from a thread.
    flush();
    throw error;
  } finally {
    clearImmediate(flushTimer);
    credits.close(job.jobId);
    // Ends the local generator (its finally runs) unless it already ended.
    await local.return?.();
  }
}

/** Entries of at most `limit` bytes each: a batch too large is halved until it fits. */
function encodeBatch(jobId: string, items: unknown[], limit: number): Buffer[] {
  try {
    return [encodeItems(jobId, items, limit)];
  } catch (error) {
    if (!(error instanceof PayloadTooLargeError) || items.length === 1) throw error;
    const half = Math.ceil(items.length / 2);
    return [...encodeBatch(jobId, items.slice(0, half), limit), ...encodeBatch(jobId, items.slice(half), limit)];
  }
}
