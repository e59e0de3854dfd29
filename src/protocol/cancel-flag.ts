/**
 * Shared memory through which the pool tells a worker that tasks were cancelled, seen even by
 * code that never yields to receive a message: a synchronous loop polling `isCancelled()`, or
 * the task loop about to start the next task of a batch. It holds the last few cancelled task
 * ids in a ring, so a burst of cancellations is not reduced to the last one.
 */
const SLOTS = 8;

export function createCancelFlag(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4 * (1 + SLOTS)));
}

/** Writer side (one writer per flag): records task `id` as cancelled. */
export function flagCancelled(flag: Int32Array, id: number): void {
  const slot = Atomics.add(flag, 0, 1) % SLOTS;
  Atomics.store(flag, 1 + slot, id);
}

/** Reader side: whether task `id` (never 0) was cancelled recently. */
export function isFlagged(flag: Int32Array, id: number): boolean {
  // The count of cancellations: while none happened, one read answers.
  if (Atomics.load(flag, 0) === 0) return false;
  for (let slot = 1; slot <= SLOTS; slot++) if (Atomics.load(flag, slot) === id) return true;
  return false;
}
