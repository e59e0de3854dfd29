/**
 * Cancels that reached a worker before their tasks started: those tasks are skipped when reached.
 *
 * The pool also cancels a task whose answer is already on its way (a timeout firing as it
 * finished), and that cancel names a task that never comes: kept, its id would stay for the
 * worker's life. A task's cancel always comes after the task itself, so once more are held than
 * the limit, only the ids of tasks still waiting in the worker are kept. The limit then doubles
 * past what is kept, so the look costs O(1) per cancel, amortised.
 */
export class EarlyCancels {
  readonly #ids = new Set<number>();
  readonly #minimumLimit: number;
  #limit: number;

  constructor(minimumLimit = 64) {
    this.#minimumLimit = minimumLimit;
    this.#limit = minimumLimit;
  }

  get size(): number {
    return this.#ids.size;
  }

  /** Records the cancel of task `id`; `waiting` lists the tasks received and not started. */
  add(id: number, waiting: () => Iterable<unknown>): void {
    this.#ids.add(id);
    if (this.#ids.size <= this.#limit) return;
    const kept = new Set(waiting());
    for (const held of this.#ids) if (!kept.has(held)) this.#ids.delete(held);
    this.#limit = Math.max(this.#minimumLimit, 2 * this.#ids.size);
  }

  /** Whether task `id` was cancelled before it started; forgets it either way. */
  take(id: number): boolean {
    return this.#ids.size > 0 && this.#ids.delete(id);
  }
}
