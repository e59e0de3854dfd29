// The consumer's task module: compiled to out/tasks.js, or run as is through tsx.
import { blocking, createPool, isCancelled, progress } from 'offload';

export function add(a: number, b: number): number {
  return a + b;
}

/** Which file the worker loaded: proves the .ts module ran through tsx, or the compiled .js. */
export function loadedFrom(): string {
  return import.meta.url.slice(import.meta.url.lastIndexOf('.') + 1);
}

export async function render(pages: number): Promise<string> {
  for (let page = 1; page <= pages; page++) progress({ page, of: pages });
  return `${pages} pages`;
}

export function* countTo(last: number): Generator<number> {
  for (let n = 1; n <= last; n++) yield n;
}

/** Blocks its worker until cancelled, as CPU-bound work does. */
export function spin(): string {
  while (!isCancelled()) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
  return 'cancelled';
}

export class Reports {
  @blocking({ pool: () => reportsPool })
  async total(values: number[]): Promise<number> {
    return values.reduce((sum, value) => sum + value, 0);
  }
}

export const reportsPool = createPool(new URL(import.meta.url), { size: 1 });
