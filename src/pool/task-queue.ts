/**
 * The pool's waiting line: FIFO within a priority, higher priorities first. Removal (a queued
 * task aborted or timed out) is O(1): the task is marked settled and skipped when reached,
 * while `length` counts only live tasks, which is what admission limits. Settled tasks still
 * held are dropped all at once when they outnumber the live ones, so what they hold (their
 * arguments) is freed even when nothing reaches them, at an amortised O(1) per removal; a
 * priority's bucket goes once it is empty.
 *
 * Keyed calls that must wait for their key (see `scheduling/key-affinity.ts`) are set aside in a
 * lane per key, in call order; they still count in `length`, so admission, `stats().queued` and
 * shutdown see them. Each lane records the worker that owned its key when it was set aside, and
 * lanes are indexed by that owner, so a dispatch looks only at the keys of workers with room.
 */
import { Queue } from './queue.js';
import { calledBefore, TaskState, type Task } from './task.js';
import type { WorkerSlot } from './worker-slot.js';

/** A key's waiting calls and the worker that owns the key (none while no worker is live). */
interface Lane {
  tasks: Queue<Task>;
  owner: WorkerSlot | undefined;
}

interface Bucket {
  priority: number;
  tasks: Queue<Task>;
}

export class TaskQueue {
  /** Sorted by priority, highest first; almost always a single bucket at priority 0, which stays. */
  #buckets: Bucket[] = [{ priority: 0, tasks: new Queue<Task>() }];
  #live = 0;
  /** Tasks held in buckets and lanes: the live ones, and settled ones not yet skipped. */
  #held = 0;
  readonly #lanes = new Map<string, Lane>();
  /** Keys with a lane, by owner, in the order their lanes were opened. */
  readonly #laneKeysByOwner = new Map<WorkerSlot | undefined, Set<string>>();

  get length(): number {
    return this.#live;
  }

  push(task: Task): void {
    this.#bucket(task.priority).tasks.push(task);
    this.#live++;
    this.#held++;
  }

  /**
   * Returns tasks that a worker never started to the front of their priority, in call order, in
   * whatever order they come: also among tasks returned before them and still waiting (a worker
   * past its memory limit gives its calls back message by message), so a bucket stays in call
   * order. Returned tasks are older than every task still queued at their priority, so the scan
   * stops at those returned before. A keyed task whose key has calls set aside joins its lane.
   */
  requeue(tasks: readonly Task[]): void {
    for (const task of tasks) {
      task.state = TaskState.Queued;
      // Its key's later calls wait in a lane, served before the main queue: it joins them, ahead
      // of those called after it, or they would overtake it.
      if (task.key !== undefined && this.#lanes.has(task.key)) {
        this.park(task as Task & { key: string }, undefined);
        continue;
      }
      const queue = this.#bucket(task.priority).tasks;
      let position = 0;
      while (position < queue.length && calledBefore(queue.at(position)!, task)) position++;
      queue.insert(position, task);
      this.#live++;
      this.#held++;
    }
  }

  /** The task `shift` would return, without removing it. */
  peek(): Task | undefined {
    for (let index = 0; index < this.#buckets.length; ) {
      const bucket = this.#buckets[index]!;
      let task = bucket.tasks.peek();
      while (task !== undefined && task.state !== TaskState.Queued) {
        bucket.tasks.shift();
        this.#held--;
        task = bucket.tasks.peek();
      }
      if (task !== undefined) return task;
      if (!this.#dropIfEmpty(index)) index++;
    }
    return undefined;
  }

  shift(): Task | undefined {
    for (let index = 0; index < this.#buckets.length; ) {
      const bucket = this.#buckets[index]!;
      let task = bucket.tasks.shift();
      while (task !== undefined && task.state !== TaskState.Queued) {
        this.#held--;
        task = bucket.tasks.shift();
      }
      if (task !== undefined) {
        this.#live--;
        this.#held--;
        if (!this.#dropIfMostlySettled()) this.#dropIfEmpty(index);
        return task;
      }
      if (!this.#dropIfEmpty(index)) index++;
    }
    return undefined;
  }

  /** At least how many live tasks wait with a priority above `priority` (an upper bound). */
  countAbove(priority: number): number {
    let count = 0;
    for (const bucket of this.#buckets) {
      if (bucket.priority <= priority) break;
      count += bucket.tasks.length;
    }
    return Math.min(count, this.#live);
  }

  /**
   * Sets a keyed task, just shifted, aside until its key may go. `owner` (the key's worker now)
   * is read only when the key has no lane yet.
   */
  park(task: Task & { key: string }, owner: WorkerSlot | undefined): void {
    let lane = this.#lanes.get(task.key);
    if (lane === undefined) {
      this.#lanes.set(task.key, (lane = { tasks: new Queue<Task>(), owner }));
      this.#keysOf(owner).add(task.key);
    }
    // In call order: a call its worker gave back unstarted joins its key's lane behind the calls
    // of that key made before it, not behind later ones already waiting.
    let position = lane.tasks.length;
    while (position > 0 && calledBefore(task, lane.tasks.at(position - 1)!)) position--;
    lane.tasks.insert(position, task);
    this.#live++;
    this.#held++;
  }

  /**
   * Keys set aside for `owner`, least recently served first (a live view: unparking while
   * iterating is safe; a key served and still waiting comes round again, as busy).
   */
  parkedKeysOf(owner: WorkerSlot): Iterable<string> {
    return this.#laneKeysByOwner.get(owner) ?? [];
  }

  /** The live workers changed: every lane's key gets its owner anew, keeping lane order. */
  rehome(ownerOf: (key: string) => WorkerSlot | undefined): void {
    this.#laneKeysByOwner.clear();
    for (const [key, lane] of this.#lanes) {
      lane.owner = ownerOf(key);
      this.#keysOf(lane.owner).add(key);
    }
  }

  /** The next live task set aside for `key`; drops settled ones and forgets an empty lane. */
  peekParked(key: string): Task | undefined {
    const lane = this.#lanes.get(key);
    if (lane === undefined) return undefined;
    let task = lane.tasks.peek();
    while (task !== undefined && task.state !== TaskState.Queued) {
      lane.tasks.shift();
      this.#held--;
      task = lane.tasks.peek();
    }
    if (task === undefined) this.#closeLane(key, lane);
    return task;
  }

  /** Takes the task `peekParked(key)` returned. */
  unpark(key: string): Task | undefined {
    const task = this.peekParked(key);
    if (task === undefined) return undefined;
    const lane = this.#lanes.get(key)!;
    lane.tasks.shift();
    this.#live--;
    this.#held--;
    if (this.#dropIfMostlySettled()) return task;
    // Forget the lane now, so the index never holds a key with nothing waiting. A key with more
    // waiting goes behind its worker's other keys: a hot key's backlog takes turns with them
    // instead of holding its worker until it drains.
    if (this.peekParked(key) !== undefined) {
      const keys = this.#laneKeysByOwner.get(lane.owner)!;
      keys.delete(key);
      keys.add(key);
    }
    return task;
  }

  /**
   * Accounts for `task`, queued, settled in place (it stays until skipped, or dropped with
   * others). It may not be marked settled yet: it is dropped as if it were.
   */
  removed(task: Task): void {
    this.#live--;
    this.#dropIfMostlySettled(task);
  }

  drain(): Task[] {
    const live: Task[] = [];
    for (const bucket of this.#buckets) {
      for (const task of bucket.tasks.drain()) if (task.state === TaskState.Queued) live.push(task);
    }
    for (const lane of this.#lanes.values()) {
      for (const task of lane.tasks.drain()) if (task.state === TaskState.Queued) live.push(task);
    }
    this.#buckets = [{ priority: 0, tasks: new Queue<Task>() }];
    this.#lanes.clear();
    this.#laneKeysByOwner.clear();
    this.#live = 0;
    this.#held = 0;
    return live;
  }

  /** Drops the settled tasks held once they outnumber the live ones (and `removed`); says whether it did. */
  #dropIfMostlySettled(removed?: Task): boolean {
    if (this.#held - this.#live <= this.#live) return false;
    this.#dropSettled(removed);
    return true;
  }

  /** Drops every settled task held (and `removed`), and the buckets and lanes left empty. O(held). */
  #dropSettled(removed: Task | undefined): void {
    const buckets: Bucket[] = [];
    for (const bucket of this.#buckets) {
      const tasks = liveOf(bucket.tasks, removed);
      if (tasks.length > 0 || bucket.priority === 0) buckets.push({ priority: bucket.priority, tasks });
    }
    this.#buckets = buckets;
    for (const [key, lane] of this.#lanes) {
      const tasks = liveOf(lane.tasks, removed);
      if (tasks.length > 0) lane.tasks = tasks;
      else this.#closeLane(key, lane);
    }
    this.#held = this.#live;
  }

  /** Removes the bucket at `index` if it is empty and not priority 0's; says whether it did. */
  #dropIfEmpty(index: number): boolean {
    const bucket = this.#buckets[index]!;
    if (bucket.tasks.length > 0 || bucket.priority === 0) return false;
    this.#buckets.splice(index, 1);
    return true;
  }

  #keysOf(owner: WorkerSlot | undefined): Set<string> {
    let keys = this.#laneKeysByOwner.get(owner);
    if (keys === undefined) this.#laneKeysByOwner.set(owner, (keys = new Set<string>()));
    return keys;
  }

  #closeLane(key: string, lane: Lane): void {
    this.#lanes.delete(key);
    const keys = this.#laneKeysByOwner.get(lane.owner);
    keys?.delete(key);
    if (keys?.size === 0) this.#laneKeysByOwner.delete(lane.owner);
  }

  #bucket(priority: number): Bucket {
    const buckets = this.#buckets;
    const first = buckets[0]!;
    if (first.priority === priority && buckets.length === 1) return first;
    // The first bucket whose priority is not above `priority`: as many buckets as priorities waiting.
    let index = 0;
    for (let end = buckets.length; index < end; ) {
      const middle = (index + end) >>> 1;
      if (buckets[middle]!.priority > priority) index = middle + 1;
      else end = middle;
    }
    const found = buckets[index];
    if (found !== undefined && found.priority === priority) return found;
    const bucket = { priority, tasks: new Queue<Task>() };
    this.#buckets.splice(index, 0, bucket);
    return bucket;
  }
}

/** The tasks of `queue` still queued, `removed` left out, in a queue of their own. */
function liveOf(queue: Queue<Task>, removed: Task | undefined): Queue<Task> {
  const live = new Queue<Task>();
  for (const task of queue) if (task.state === TaskState.Queued && task !== removed) live.push(task);
  return live;
}
