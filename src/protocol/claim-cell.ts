/**
 * One cell of shared memory through which the pool hands a busy thread its next task ahead of
 * time, so the thread starts it without a round trip through the main thread, while the pool can
 * still take it back (a higher-priority call arrived, or the task was cancelled) until the moment
 * it starts. Whoever swaps the cell first wins: the worker claiming the task (`id` → 0) or the
 * pool revoking it (`id` → `-id`). Task ids are positive and never 0, so the states never clash.
 */
const CELL = 0;

export function createClaimCell(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4));
}

/**
 * Pool: whether a task may be offered now. Yes once the worker has settled the last task handed
 * ahead (claimed it or skipped it), and also while the cell still offers `startedId`: a task the
 * pool already counts as started (the one before it was answered), which it will never revoke.
 * The worker may not have claimed it yet — its answer to the previous task and its claim race —
 * and a new offer may replace it: finding another id in the cell, the worker runs it as claimed.
 * Waiting for the claim instead would leave the thread without its next task until some other
 * dispatch, a round trip through the main thread.
 */
export function canOffer(cell: Int32Array, startedId: number | undefined): boolean {
  const value = Atomics.load(cell, CELL);
  return value === 0 || value === startedId;
}

/** Pool: task `id` is about to be sent ahead; call before posting it. */
export function offer(cell: Int32Array, id: number): void {
  Atomics.store(cell, CELL, id);
}

/** Pool: the task offered could not be sent after all; nothing waits for the worker to claim. */
export function retract(cell: Int32Array): void {
  Atomics.store(cell, CELL, 0);
}

/** Pool: takes task `id` back unless its worker already started it; `true` when taken back. */
export function revoke(cell: Int32Array, id: number): boolean {
  return Atomics.compareExchange(cell, CELL, id, -id) === id;
}

/**
 * Worker, before starting task `id`: `false` when the pool took it back (the worker then skips it
 * without a word: the pool has already put it back in its queue).
 */
export function claim(cell: Int32Array, id: number): boolean {
  const previous = Atomics.compareExchange(cell, CELL, id, 0);
  if (previous !== -id) return true; // claimed, or not the task handed ahead
  Atomics.compareExchange(cell, CELL, -id, 0); // skipped: the pool may hand ahead again
  return false;
}

/** Worker: whether the pool has offered a task ahead that is not claimed yet (its message may still be on its way). */
export function isOffered(cell: Int32Array): boolean {
  return Atomics.load(cell, CELL) > 0;
}

/**
 * Worker: whether task `id` is the one handed ahead (offered or already taken back). A worker past
 * its memory limit leaves such a task unclaimed: the pool takes it back for a fresh worker.
 */
export function isHandedAhead(cell: Int32Array, id: number): boolean {
  const value = Atomics.load(cell, CELL);
  return value === id || value === -id;
}
