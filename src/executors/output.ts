/**
 * Forwards a worker process's stdout or stderr to the parent's, one whole line at a time, each
 * prefixed with the worker's name, so the output of concurrent workers never interleaves
 * mid-line and every line says where it came from.
 */
import type { Readable, Writable } from 'node:stream';

const NEWLINE = 0x0a;
/** A line longer than this is written out in pieces rather than held without bound. */
const MAX_HELD_BYTES = 64 * 1024;

export class PrefixedLines {
  readonly #prefix: Buffer;
  readonly #target: Writable;
  readonly #onLine: ((line: string) => void) | undefined;
  #held: Buffer | undefined;

  /** `onLine` sees each complete line (without prefix or newline), to watch for fatal messages. */
  constructor(prefix: string, target: Writable, onLine?: (line: string) => void) {
    this.#prefix = Buffer.from(prefix);
    this.#target = target;
    this.#onLine = onLine;
  }

  /** Starts forwarding `source`; the last, unterminated line is written when it ends. */
  forward(source: Readable): void {
    source.on('data', (chunk: Buffer) => this.write(chunk));
    source.on('end', () => this.flush());
    // The parent's output must outlive a broken pipe from a dying child.
    source.on('error', () => this.flush());
  }

  write(chunk: Buffer): void {
    // Splitting on the byte 0x0a is safe for UTF-8: no multi-byte character contains it.
    const data = this.#held === undefined ? chunk : Buffer.concat([this.#held, chunk]);
    const parts: Buffer[] = [];
    let start = 0;
    for (let end = data.indexOf(NEWLINE); end !== -1; end = data.indexOf(NEWLINE, start)) {
      this.#line(parts, data.subarray(start, end));
      start = end + 1;
    }
    this.#held = start < data.length ? data.subarray(start) : undefined;
    if (this.#held !== undefined && this.#held.length > MAX_HELD_BYTES) {
      this.#line(parts, this.#held);
      this.#held = undefined;
    }
    // One write for every line of the chunk: fewer syscalls, and no other worker's line between them.
    if (parts.length > 0) this.#target.write(Buffer.concat(parts));
  }

  flush(): void {
    if (this.#held === undefined) return;
    const parts: Buffer[] = [];
    this.#line(parts, this.#held);
    this.#held = undefined;
    this.#target.write(Buffer.concat(parts));
  }

  #line(parts: Buffer[], line: Buffer): void {
    parts.push(this.#prefix, line, NEWLINE_BUFFER);
    this.#onLine?.(line.toString());
  }
}

const NEWLINE_BUFFER = Buffer.from('\n');
