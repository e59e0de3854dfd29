/**
 * Key affinity: calls that name the same `key` go to the same live worker, one at a time, so
 * per-key state warmed in that worker (a tenant's cache, a SQLite connection) is reused and a
 * key's calls never race each other.
 *
 * The worker is chosen by rendezvous (highest random weight) hashing: every live worker gets a
 * score for the key and the highest wins. Adding a worker moves only the keys it now wins (about
 * 1/N of them); removing one moves only the keys it held. No ring to rebuild. Waiting keys keep
 * the owner found when they were set aside until the live workers change (a worker starts,
 * exits, retires or goes over its memory limit), then all get it anew, so a worker that exits
 * hands its keys on and a dispatch never rehashes keys while nothing changed.
 */
import type { WorkerSlot } from '../worker-slot.js';

export class KeyAffinity {
  /** Keys with a call held by a worker now: their next call waits until it is answered. */
  readonly #busy = new Set<string>();
  /** The live workers at the last `liveChanged` call, in pool order. */
  readonly #live: WorkerSlot[] = [];
  isBusy(key: string): boolean {
    return this.#busy.has(key);
  }

  hold(key: string): void {
    this.#busy.add(key);
  }

  /** The key's call was answered (or its worker exited): the next call of the key may go. */
  release(key: string): void {
    this.#busy.delete(key);
  }

  /** Whether the live workers differ from the last call's: owners found before may be stale. */
  liveChanged(workers: readonly WorkerSlot[]): boolean {
    let changed = false;
    let count = 0;
    for (const slot of workers) {
      if (!isLive(slot)) continue;
      if (this.#live[count] !== slot) {
        this.#live[count] = slot;
        changed = true;
      }
      count++;
    }
    if (this.#live.length !== count) {
      this.#live.length = count;
      changed = true;
    }
    return changed;
  }

  /** The live worker that owns `key`: the highest score among workers not retiring. */
  owner(key: string, workers: readonly WorkerSlot[]): WorkerSlot | undefined {
    const hash = hashString(key);
    let best: WorkerSlot | undefined;
    let bestScore = -1;
    for (const slot of workers) {
      if (!isLive(slot)) continue;
      const score = mix(hash ^ Math.imul(slot.id, 0x9e3779b1));
      if (score > bestScore) {
        best = slot;
        bestScore = score;
      }
    }
    return best;
  }
}

/** A worker that may own keys: one retiring or over its memory limit takes no new task. */
function isLive(slot: WorkerSlot): boolean {
  return !slot.isRetiring && !slot.isOverMemory;
}

/** FNV-1a over UTF-16 code units: fast, and spreads short similar keys ("tenant-1", "tenant-2"). */
function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** Murmur3's finaliser: every input bit moves every output bit, so scores per worker are independent. */
function mix(value: number): number {
  let h = value;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
