/**
 * Slow tasks handed ahead. While every worker is busy and tasks wait, each busy thread receives
 * its next task now, so it starts it the moment the current one ends instead of after a round
 * trip through the main thread (the seed's case: 20 ms tasks back to back on every thread).
 * Such a task still waits as far as the pool is concerned: admission (`maxQueue`) counts it, and
 * until the thread starts it the pool can take it back through the slot's claim cell — when it
 * is cancelled, or when a call of higher priority arrives and should run first, or when it would
 * wait behind a long task while another worker could run it (see the dispatcher's `freed`,
 * `vacated` and `#handAhead`).
 *
 * A thread started for a call while no other is ready (a cold start) is handed that call the
 * same way, with its spawn: the task waits in the starting thread's port and runs as soon as its
 * module has loaded, instead of after the thread reports ready and the pool answers (a round
 * trip). Until then it is as revocable as any task handed ahead. A worker process is handed its
 * first call the same way, but shares no memory with the pool: asked to give it back, it answers
 * on its channel, `GivenBack` or (too late) `Ready`, and the task stays counted where it is until
 * then (see src/worker/spawn-inbox.ts).
 */
import type { TransferListItem } from 'node:worker_threads';
import { canOffer, revoke } from '../../protocol/claim-cell.js';
import { ToWorker } from '../../protocol/messages.js';
import type { Task } from '../task.js';
import type { WorkerSlot } from '../worker-slot.js';

const NO_TRANSFER: readonly TransferListItem[] = [];

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
  return (slot.claimCell !== undefined || slot.givesBack) && !slot.isReady && slot.inflight.length === 0;
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
  if (slot.claimCell === undefined || waitingAhead(slot) !== task || !revoke(slot.claimCell, task.id)) return false;
  release(slot, task);
  return true;
}

/**
 * Asks a worker process still starting to give back `task`, handed with its spawn: with `Revoke`
 * (it may run elsewhere), or `Cancel` (its caller gave up: stopped if it has started after all).
 * `true` when asked: the task comes back with `GivenBack` unless `Ready` comes first.
 */
export function askBack(slot: WorkerSlot, task: Task, request: typeof ToWorker.Revoke | typeof ToWorker.Cancel): boolean {
  if (!slot.givesBack || slot.askedBack !== undefined || slot.isReady || waitingAhead(slot) !== task) return false;
  slot.askedBack = task;
  slot.handle.post([request, task.id], NO_TRANSFER);
  return true;
}

/** A worker process gave back task `id`, handed with its spawn: the task, off the worker's books. */
export function givenBack(slot: WorkerSlot, id: unknown): Task | undefined {
  const task = waitingAhead(slot);
  if (task === undefined || task.id !== id || slot.isReady) return undefined;
  release(slot, task);
  return task;
}

/**
 * A worker that ended, or failed to load its module, before it was ready never started the task
 * handed with its spawn: the task, off the worker's books.
 */
export function takeBackUnstarted(slot: WorkerSlot): Task | undefined {
  const task = waitingAhead(slot);
  if (task === undefined || slot.isReady) return undefined;
  if (slot.claimCell !== undefined && !revoke(slot.claimCell, task.id)) return undefined;
  release(slot, task);
  return task;
}

/** Takes `task`, the last in flight on `slot` (see `waitingAhead`), off its books. */
function release(slot: WorkerSlot, _task: Task): void {
  slot.inflight.pop();
  slot.ahead = undefined;
  slot.askedBack = undefined;
  slot.assigned--;
}
