/**
 * A 16 MiB buffer, one call at a time on a pool of 2: copied in (the task returns its length),
 * and moved in and back by the library's own transfer mechanism (the task returns it).
 */
import type { Bytes } from '../adapters/adapter.js';
import { mean, MiB } from '../stats.js';
import { sequential } from './load.js';
import type { Scenario } from './scenario.js';

const SIZE = 2;
const BYTES = 16 * MiB;
const MINIMUM_CALLS = 3;

export const buffer: Scenario = async ({ loadPool, workerFile, measureMs }) => {
  const pool = (await loadPool())(SIZE, workerFile);

  // Filled, so every page is real memory rather than the kernel's shared zero page.
  const copied = new Uint8Array(BYTES).fill(1);
  const copyIn = async (): Promise<void> => {
    const length = await pool.call('length', copied);
    if (length !== BYTES) throw new Error(`length returned ${String(length)}`);
  };

  let moving: Bytes = new Uint8Array(BYTES).fill(1);
  let wasMoved = true;
  const moveInAndBack = async (): Promise<void> => {
    const sent = moving;
    const returned = (await pool.call('echo', sent, true)) as Bytes;
    if (returned.byteLength !== BYTES) throw new Error(`echo returned ${returned.byteLength} bytes`);
    // A moved buffer is detached on this side; one still readable was copied, not transferred.
    if (sent.byteLength !== 0) wasMoved = false;
    moving = returned;
  };

  await sequential(copyIn, 0, 1); // warm-up
  const copyTimes = await sequential(copyIn, measureMs / 2, MINIMUM_CALLS);
  await sequential(moveInAndBack, 0, 1);
  const moveTimes = await sequential(moveInAndBack, measureMs / 2, MINIMUM_CALLS);
  await pool.close();
  // Means, not medians: copies of this size often trigger a garbage collection (tens of ms) in
  // the worker or here; that cost is part of moving 16 MiB, and a median would hide it.
  return { copyMs: mean(copyTimes), transferMs: mean(moveTimes), inputWasMoved: wasMoved ? 1 : 0 };
};
