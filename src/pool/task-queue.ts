/**
 * The pool's waiting line: FIFO within a priority, higher priorities first. Removal (a queued
 * task aborted or timed out) is O(1): the task is marked settled and skipped when reached,
 * while `length` counts only live tasks, which is what admission limits.
 *
 * Keyed calls that must wait for their key (see `scheduling/key-affinity.ts`) are set aside in a
 * lane per key, in call order; they still count in `length`, so admission, `stats().queued` and
 * shutdown see them.
 */
import { Queue } from './queue.js';
import { TaskState, type Task } from './task.js';

interface Bucket {
  priority: number;
  tasks: Queue<Task>;
}

export class TaskQueue {
  /** Sorted by priority, highest first; almost always a single bucket at priority 0. */
  #buckets: Bucket[] = [{ priority: 0, tasks: new Queue<Task>() }];
  #live = 0;
  readonly #lanes = new Map<string, Queue<Task>>();

  get length(): number {
    return this.#live;
  }

  push(task: Task): void {
    this.#bucket(task.priority).tasks.push(task);
    this.#live++;
  }

  /** Returns tasks that a worker never started to the front of their priority, in order. */
  requeue(tasks: readonly Task[]): void {
    for (let i = tasks.length - 1; i >= 0; i--) {
      const task = tasks[i]!;
      task.state = TaskState.Queued;
      this.#bucket(task.priority).tasks.unshift(task);
      this.#live++;
    }
  }

  /** The task `shift` would return, without removing it. */
  peek(): Task | undefined {
    for (const bucket of this.#buckets) {
      let task = bucket.tasks.peek();
      while (task !== undefined && task.state !== TaskState.Queued) {
        bucket.tasks.shift();
        task = bucket.tasks.peek();
      }
      if (task !== undefined) return task;
    }
    return undefined;
  }

  shift(): Task | undefined {
    for (const bucket of this.#buckets) {
      let task = bucket.tasks.shift();
      while (task !== undefined && task.state !== TaskState.Queued) task = bucket.tasks.shift();
      if (task !== undefined) {
        this.#live--;
        return task;
      }
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

  /** Sets a keyed task, just shifted, aside until its key may go. */
  park(task: Task & { key: string }): void {
    let lane = this.#lanes.get(task.key);
    if (lane === undefined) this.#lanes.set(task.key, (lane = new Queue<Task>()));
    lane.push(task);
    this.#live++;
  }

  /** Keys with tasks set aside. */
  parkedKeys(): IterableIterator<string> {
    return this.#lanes.keys();
  }

  /** The next live task set aside for `key`; drops settled ones and forgets an empty lane. */
  peekParked(key: string): Task | undefined {
    const lane = this.#lanes.get(key);
    if (lane === undefined) return undefined;
    let task = lane.peek();
    while (task !== undefined && task.state !== TaskState.Queued) {
      lane.shift();
      task = lane.peek();
    }
    if (task === undefined) this.#lanes.delete(key);
    return task;
  }

  /** Takes the task `peekParked(key)` returned. */
  unpark(key: string): Task | undefined {
    const task = this.peekParked(key);
    if (task === undefined) return undefined;
    this.#lanes.get(key)!.shift();
    this.#live--;
    return task;
  }

  /** Accounts for a queued task settled in place (it stays until `shift` skips it). */
  removed(): void {
    this.#live--;
  }

  drain(): Task[] {
    const live: Task[] = [];
    for (const bucket of this.#buckets) {
      for (const task of bucket.tasks.drain()) if (task.state === TaskState.Queued) live.push(task);
    }
    for (const lane of this.#lanes.values()) {
      for (const task of lane.drain()) if (task.state === TaskState.Queued) live.push(task);
    }
    this.#lanes.clear();
    this.#live = 0;
    return live;
  }

  #bucket(priority: number): Bucket {
    const first = this.#buckets[0]!;
    if (first.priority === priority && this.#buckets.length === 1) return first;
    let index = 0;
    while (index < this.#buckets.length && this.#buckets[index]!.priority > priority) index++;
    const found = this.#buckets[index];
    if (found !== undefined && found.priority === priority) return found;
    const bucket = { priority, tasks: new Queue<Task>() };
    this.#buckets.splice(index, 0, bucket);
    return bucket;
  }
}
