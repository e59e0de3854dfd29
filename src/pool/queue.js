/**
 * A FIFO with O(1) push and shift that does not reallocate on every shift (as `Array#shift`
 * does on large arrays): items are read from a moving head and the array is compacted only when
 * the dead prefix dominates.
 */
export class Queue {
    #items = [];
    #head = 0;
    get length() {
        return this.#items.length - this.#head;
    }
    push(item) {
        this.#items.push(item);
    }
    /** Puts an item back at the front (a task returned from a worker that never started it). */
    unshift(item) {
        if (this.#head > 0)
            this.#items[--this.#head] = item;
        else
            this.#items.unshift(item);
    }
    peek() {
        return this.#items[this.#head];
    }
    shift() {
        if (this.#head >= this.#items.length)
            return undefined;
        const item = this.#items[this.#head];
        this.#items[this.#head++] = undefined;
        if (this.#head === this.#items.length) {
            this.#items.length = 0;
            this.#head = 0;
        }
        else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
            this.#items = this.#items.slice(this.#head);
            this.#head = 0;
        }
        return item;
    }
    includes(item) {
        for (let i = this.#head; i < this.#items.length; i++)
            if (this.#items[i] === item)
                return true;
        return false;
    }
    /** Removes and returns every item. */
    drain() {
        const items = this.#items.slice(this.#head);
        this.#items = [];
        this.#head = 0;
        return items;
    }
    *[Symbol.iterator]() {
        for (let i = this.#head; i < this.#items.length; i++)
            yield this.#items[i];
    }
}
