/** piscina's convention: named exports picked with `run(task, { name })`, one argument each. */
import { move } from 'piscina';

export { noop, spin, length, sleep } from './tasks.js';

export function echo(bytes: Uint8Array): unknown {
  return move(bytes);
}
