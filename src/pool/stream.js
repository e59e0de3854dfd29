/**
 * The caller's side of a generator task: an async iterator over the items the worker yields,
 * with credit-based backpressure. The worker may produce at most `highWaterMark` items that the
 * consumer has not taken yet; taking items grants more credit in chunks, so a slow consumer
 * makes the generator wait and memory stays flat however long the stream.
 */
import { Queue } from './queue.js';
import { Failure } from './task.js';
export class TaskStream {
    highWaterMark;
    #start;
    #control;
    #isStarted = false;
    #items = new Queue();
    /** Credit granted and not yet used by the worker. */
    #outstanding;
    #waiter;
    /** How it ended, delivered once the buffered items are taken. */
    #end;
    #isClosed = false;
    /** `start` queues the task; it returns undefined when admission refused (and `end` was called). */
    constructor(highWaterMark, start) {
        this.highWaterMark = highWaterMark;
        this.#outstanding = highWaterMark;
        this.#start = start;
    }
    [Symbol.asyncIterator]() {
        return this;
    }
    next() {
        if (!this.#isStarted) {
            // Started by the first pull, so a stream nobody reads never occupies a worker.
            this.#isStarted = true;
            this.#control = this.#start(this);
        }
        if (this.#items.length > 0) {
            const value = this.#items.shift();
            this.#replenish();
            return Promise.resolve({ value, done: false });
        }
        if (this.#end !== undefined || this.#isClosed)
            return this.#finish();
        return new Promise((resolve, reject) => (this.#waiter = { resolve, reject }));
    }
    /** Called by `break`, `return` or a throw in a `for await` body: ends the generator. */
    return() {
        if (!this.#isClosed) {
            this.#isClosed = true;
            this.#items.drain();
            if (this.#end === undefined)
                this.#control?.stop();
            this.#end ??= { done: true };
        }
        return Promise.resolve({ value: undefined, done: true });
    }
    throw(error) {
        void this.return();
        return Promise.reject(error);
    }
    // --- fed by the pool ---------------------------------------------------------------------
    push(items) {
        this.#outstanding -= items.length;
        if (this.#isClosed)
            return;
        let index = 0;
        if (this.#waiter !== undefined && items.length > 0) {
            const waiter = this.#waiter;
            this.#waiter = undefined;
            waiter.resolve({ value: items[index++], done: false });
        }
        for (; index < items.length; index++)
            this.#items.push(items[index]);
        this.#replenish();
    }
    /** The task settled: its return value (ignored) or a `Failure`. */
    end(outcome) {
        if (this.#end !== undefined)
            return;
        this.#end = outcome instanceof Failure ? { error: outcome.toError() } : { done: true };
        if (this.#waiter !== undefined && this.#items.length === 0) {
            const waiter = this.#waiter;
            this.#waiter = undefined;
            this.#finish().then(waiter.resolve, waiter.reject);
        }
    }
    #finish() {
        const end = this.#end;
        this.#end = { done: true };
        this.#isClosed = true;
        if (end !== undefined && 'error' in end)
            return Promise.reject(end.error);
        return Promise.resolve({ value: undefined, done: true });
    }
    /** Tops the worker's credit back up once it has fallen to half the high-water mark. */
    #replenish() {
        const room = this.highWaterMark - this.#outstanding - this.#items.length;
        if (this.#control !== undefined && this.#end === undefined && room >= Math.ceil(this.highWaterMark / 2)) {
            this.#outstanding += room;
            this.#control.pull(room);
        }
    }
}
