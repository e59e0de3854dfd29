/**
 * Which workers receive queued tasks, and how many each: the queue is spread evenly over the
 * workers that have room, so one pass never piles a backlog onto the first worker found.
 */
import type { WorkerSlot } from '../worker-slot.js';

/** Whether a worker may take tasks now, holding at most `depth` in flight. */
export function canTake(slot: WorkerSlot, depth: number, idleOnly: boolean, maxTasks: number): boolean {
  const load = slot.inflight.length;
  return (
    slot.isReady &&
    !slot.isRetiring &&
    !slot.isStreaming &&
    !slot.isOverMemory &&
    slot.assigned < maxTasks &&
    (idleOnly ? load === 0 : load < depth)
  );
}

/**
 * Calls `send(slot, count)` for each worker with room, giving each its share of `queued()` tasks
 * (`queued` is re-read after every send: a send may take fewer tasks than offered).
 */
export function shareOut(
  workers: readonly WorkerSlot[],
  depth: number,
  idleOnly: boolean,
  maxTasks: number,
  queued: () => number,
  send: (slot: WorkerSlot, count: number) => void,
): void {
  let candidates = 0;
  for (const slot of workers) if (canTake(slot, depth, idleOnly, maxTasks)) candidates++;
  for (const slot of workers) {
    if (candidates === 0 || queued() === 0) return;
    if (!canTake(slot, depth, idleOnly, maxTasks)) continue;
    const room = Math.min(depth - slot.inflight.length, maxTasks - slot.assigned);
    send(slot, Math.min(room, Math.ceil(queued() / candidates--)));
  }
}
