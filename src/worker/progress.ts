/**
 * `progress(value)` reports, throttled: at most one message per interval, and always the latest
 * value, so a tight loop calling it on every row cannot flood the main thread; the last value
 * is flushed before the task's result, so the caller never misses the final one.
 */
import { FromWorker, type WorkerMessage } from '../protocol/messages.js';
import { now } from '../clock.js';

const INTERVAL_MS = 25;
const NONE = Symbol('none');

export class ProgressReporter {
  readonly #post: (message: WorkerMessage) => void;
  #lastSentAt = -Infinity;
  #taskId = -1;
  #pending: unknown = NONE;
  #timer: NodeJS.Timeout | undefined;

  constructor(post: (message: WorkerMessage) => void) {
    this.#post = post;
  }

  report(taskId: number, value: unknown): void {
    if (taskId !== this.#taskId) {
      this.flush();
      this.#taskId = taskId;
    }
    const at = now();
    if (at - this.#lastSentAt >= INTERVAL_MS) {
      this.#pending = NONE;
      this.#send(value, at);
      return;
    }
    this.#pending = value;
    // A trailing send, for async tasks that pause after reporting.
    this.#timer ??= setTimeout(() => this.flush(), INTERVAL_MS - (at - this.#lastSentAt));
  }

  /** Sends the value held back, if any. */
  flush(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#pending === NONE) return;
    const value = this.#pending;
    this.#pending = NONE;
    this.#send(value, now());
  }

  #send(value: unknown, at: number): void {
    this.#lastSentAt = at;
    try {
      this.#post([FromWorker.Progress, this.#taskId, value]);
    } catch {
      // A progress value that cannot be cloned is dropped; the task itself goes on.
    }
  }
}
