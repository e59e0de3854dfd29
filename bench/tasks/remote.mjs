// The remote bench's tasks, shared with its plain BullMQ worker so both sides do the same work.
export function add(a, b) { return a + b; }

/** A result of `size` bytes (one-byte characters serialise to one byte each, in JSON and in V8). */
export function blob(size) { return 'x'.repeat(size); }
