/**
 * Slow tasks handed ahead. While every worker is busy and tasks wait, each busy thread receives
 * its next task now, so it starts it the moment the current one ends instead of after a round
 * trip through the main thread (the seed's case: 20 ms tasks back to back on every thread).
 * Such a task still waits as far as the pool is concerned: admission (`maxQueue`) counts it, and
 * until the thread starts it the pool can take it back through the slot's claim cell — when it
 * is cancelled, or when a call of higher priority arrives and should run first.
 *
 * A thread started for a call while no other is ready (a cold start) is handed that call the
 * same way, with its spawn: the task waits in the starting thread's port and runs as soon as its
 * module has loaded, instead of after the thread reports ready and the pool answers (a round
 * trip). Until then it is as revocable as any task handed ahead.
 */
import { canOffer, revoke } from '../../protocol/claim-cell.js';
import type { Task } from '../task.js';
import type { WorkerSlot } from '../worker-slot.js';

/** Whether `slot` may take a task ahead now: busy with one task, no other task waiting ahead. */
export function canTakeAhead(slot: WorkerSlot, maxTasks: number): boolean {
  return (
    slot.claimCell !== undefined &&
    slot.isReady &&
    !slot.isRetiring &&
    !slot.isStreaming &&
    !slot.isOverMemory &&
    slot.inflight.length === 1 &&
    slot.assigned < maxTasks &&
    canOffer(slot.claimCell, slot.inflight.peek()?.id)
  );
}

/** Whether the pool may hand `slot`, while it starts, its first task with its spawn. */
export function canTakeAtSpawn(slot: WorkerSlot): boolean {
  return slot.claimCell !== undefined && !slot.isReady && slot.inflight.length === 0;
}

/** The task handed ahead to `slot` that still waits (behind another, or for the thread to start), if any. */
export function waitingAhead(slot: WorkerSlot): Task | undefined {
  const ahead = slot.ahead;
  return ahead !== undefined && (slot.inflight.length >= 2 || !slot.isReady) && slot.inflight.last() === ahead ? ahead : undefined;
}

/**
 * Takes `task` back from `slot` unless the thread has started it; `true` when taken back (the
 * caller requeues or settles it: the thread will skip it without a word).
 */
export function withdraw(slot: WorkerSlot, task: Task): boolean {
  if (waitingAhead(slot) !== task || !revoke(slot.claimCell!, task.id)) return false;
  slot.inflight.pop();
  slot.ahead = undefined;
  slot.assigned--;
  return true;
}
