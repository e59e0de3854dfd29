/** tinypool (a piscina fork) shares piscina's convention: named exports, one argument each. */
import { Tinypool } from 'tinypool';

export { noop, spin, length, sleep } from './tasks.js';

export function echo(bytes: Uint8Array): unknown {
  return Tinypool.move(bytes);
}
