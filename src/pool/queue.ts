/**
 * A FIFO on a ring buffer: push, shift, pop and unshift are O(1) and, once the ring has grown to
 * the work in flight, allocate nothing and never resize the array (a call's round trip pushes
 * and shifts a task on two of these; `Array#shift` and truncating `length` both cost a runtime
 * call). The ring doubles when full and halves once mostly empty, so memory follows the work.
 */
const MIN_CAPACITY = 8;

export class Queue<T> {
  #items: (T | undefined)[] = new Array<T | undefined>(MIN_CAPACITY).fill(undefined);
  /** Index of the first item; `#mask` is the capacity minus one (a power of two). */
  #head = 0;
  #length = 0;
  #mask = MIN_CAPACITY - 1;

  get length(): number {
    return this.#length;
  }

  push(item: T): void {
    if (this.#length > this.#mask) this.#resize((this.#mask + 1) * 2);
    this.#items[(this.#head + this.#length) & this.#mask] = item;
    this.#length++;
  }

  /** Puts an item back at the front (a task returned from a worker that never started it). */
  unshift(item: T): void {
    if (this.#length > this.#mask) this.#resize((this.#mask + 1) * 2);
    this.#head = (this.#head - 1) & this.#mask;
    this.#items[this.#head] = item;
    this.#length++;
  }

  /** Inserts an item before the one at `position` (at the back when `position` is the length); O(n). */
  insert(position: number, item: T): void {
    if (position <= 0) return this.unshift(item);
    if (position >= this.#length) return this.push(item);
    if (this.#length > this.#mask) this.#resize((this.#mask + 1) * 2);
    // Open the gap by moving the items after it one place back.
    for (let i = this.#length; i > position; i--) {
      this.#items[(this.#head + i) & this.#mask] = this.#items[(this.#head + i - 1) & this.#mask];
    }
    this.#items[(this.#head + position) & this.#mask] = item;
    this.#length++;
  }

  /** The item `pop` would return. */
  last(): T | undefined {
    return this.#length === 0 ? undefined : this.#items[(this.#head + this.#length - 1) & this.#mask];
  }

  /** Removes the item at the back (a task taken back from a worker before it started). */
  pop(): T | undefined {
    if (this.#length === 0) return undefined;
    const index = (this.#head + this.#length - 1) & this.#mask;
    const item = this.#items[index];
    this.#items[index] = undefined;
    this.#length--;
    this.#shrinkIfSparse();
    return item;
  }

  peek(): T | undefined {
    return this.#length === 0 ? undefined : this.#items[this.#head];
  }

  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) & this.#mask;
    this.#length--;
    this.#shrinkIfSparse();
    return item;
  }

  /** The item at `position` from the front (0 is the head). */
  at(position: number): T | undefined {
    return position >= 0 && position < this.#length ? this.#items[(this.#head + position) & this.#mask] : undefined;
  }

  /** Removes an item wherever it is (a concurrent task answered out of order); O(n). */
  remove(item: T): boolean {
    let position = 0;
    while (position < this.#length && this.#items[(this.#head + position) & this.#mask] !== item) position++;
    if (position === this.#length) return false;
    // Close the gap from the back: the items behind it move one place forward.
    for (let i = position; i < this.#length - 1; i++) {
      this.#items[(this.#head + i) & this.#mask] = this.#items[(this.#head + i + 1) & this.#mask];
    }
    this.#items[(this.#head + this.#length - 1) & this.#mask] = undefined;
    this.#length--;
    this.#shrinkIfSparse();
    return true;
  }

  includes(item: T): boolean {
    for (let i = 0; i < this.#length; i++) if (this.#items[(this.#head + i) & this.#mask] === item) return true;
    return false;
  }

  /** Removes and returns every item. */
  drain(): T[] {
    const items = this.toArray();
    this.#items = new Array<T | undefined>(MIN_CAPACITY).fill(undefined);
    this.#head = 0;
    this.#length = 0;
    this.#mask = MIN_CAPACITY - 1;
    return items;
  }

  toArray(): T[] {
    const items: T[] = [];
    for (let i = 0; i < this.#length; i++) items.push(this.#items[(this.#head + i) & this.#mask] as T);
    return items;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.#length; i++) yield this.#items[(this.#head + i) & this.#mask] as T;
  }

  #shrinkIfSparse(): void {
    const capacity = this.#mask + 1;
    if (capacity > MIN_CAPACITY * 4 && this.#length * 8 < capacity) this.#resize(capacity / 2);
  }

  #resize(capacity: number): void {
    const items = new Array<T | undefined>(capacity).fill(undefined);
    for (let i = 0; i < this.#length; i++) items[i] = this.#items[(this.#head + i) & this.#mask];
    this.#items = items;
    this.#head = 0;
    this.#mask = capacity - 1;
  }
}
