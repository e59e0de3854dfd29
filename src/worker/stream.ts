/**
 * Runs a generator task as a stream: pulls items while the consumer has granted credit, sends
 * them batched, and waits when the credit is spent, so the generator never runs more than
 * `highWaterMark` items ahead of the consumer however fast it could go.
 */
import type { TransferListItem } from 'node:worker_threads';
import { AbortError, type NotCloneableError } from '../errors.js';
import { itemRefusal } from '../protocol/clone-path.js';
import { FromWorker, type WorkerMessage } from '../protocol/messages.js';
import { takeMarked } from '../transfer.js';
import { isCancelled } from './context.js';

/** Most items per message: large enough to amortise a message, small enough to keep latency. */
const BATCH = 256;

export class StreamControl {
  credit: number;
  /** Set when a yielded item could not be sent: the stream fails with it. */
  refusal: NotCloneableError | undefined;
  #wake: (() => void) | undefined;

  constructor(credit: number) {
    this.credit = credit;
  }

  grant(items: number): void {
    this.credit += items;
    this.wake();
  }

  /** Ends a wait for credit (on a grant, or on cancellation). */
  wake(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  waitForCredit(): Promise<void> {
    return new Promise((resolve) => (this.#wake = resolve));
  }
}

type Step = IteratorResult<unknown, unknown>;
type AnyIterator = Iterator<unknown, unknown, undefined> | AsyncIterator<unknown, unknown, undefined>;

export function isIterator(value: unknown): value is AnyIterator {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { next?: unknown }).next === 'function' &&
    (Symbol.asyncIterator in value || Symbol.iterator in value)
  );
}

/** Streams `iterator`'s items; resolves with its return value, rejects with its error. */
export async function pump(
  id: number,
  iterator: AnyIterator,
  control: StreamControl,
  post: (message: WorkerMessage, transfer?: TransferListItem[]) => void,
): Promise<unknown> {
  let items: unknown[] = [];
  /** Items sent so far, to name the one that cannot be sent (`item[41]`). */
  let sent = 0;
  let isFlushScheduled = false;
  const flush = (): void => {
    isFlushScheduled = false;
    if (items.length === 0 || control.refusal !== undefined) return;
    // Taken before sending: a batch that cannot be sent fails the stream once, and the flush
    // already scheduled finds nothing left to throw over again.
    const batch = items;
    items = [];
    try {
      post([FromWorker.Items, id, ...batch] as WorkerMessage, takeMarked(batch));
      sent += batch.length;
    } catch {
      // Deliver the items before the culprit, one by one, then fail the stream naming it.
      for (const item of batch) {
        try {
          post([FromWorker.Items, id, item] as WorkerMessage, takeMarked([item]));
          sent++;
        } catch (error) {
          control.refusal = itemRefusal(item, sent, error);
          control.wake();
          return;
        }
      }
    }
  };
  try {
    for (;;) {
      if (control.refusal !== undefined) {
        await iterator.return?.(undefined);
        throw control.refusal;
      }
      if (isCancelled()) {
        flush();
        // Ends the generator where it stands, so its `finally` blocks run.
        await iterator.return?.(undefined);
        throw new AbortError('the consumer stopped the stream');
      }
      if (control.credit <= 0) {
        flush();
        if (control.refusal === undefined) await control.waitForCredit();
        continue;
      }
      let step = iterator.next() as Step | Promise<Step>;
      if (step instanceof Promise) step = await step;
      if (step.done) {
        flush();
        if (control.refusal !== undefined) throw control.refusal;
        return step.value;
      }
      items.push(step.value);
      control.credit--;
      if (items.length >= BATCH) flush();
      else if (!isFlushScheduled) {
        // A slow producer's items leave within one turn of the event loop; a fast synchronous
        // one fills whole batches first.
        isFlushScheduled = true;
        setImmediate(flush);
      }
    }
  } catch (error) {
    flush();
    throw error;
  }
}
