/** offload's convention: the module's named exports are the tasks, called with spread arguments. */
import { transfer } from 'offload/task';

export { noop, spin, length, sleep } from './tasks.js';

export function echo(bytes: Uint8Array): Uint8Array {
  return transfer(bytes);
}
