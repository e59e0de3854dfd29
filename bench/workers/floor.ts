/**
 * The platform floors of a round trip: a worker that answers a no-op request with nothing but
 * what the platform offers, no pool around it. `workerData.wake` picks how it waits:
 * - `atomics-wait`: synchronous `Atomics.wait` (its event loop is blocked while idle),
 * - `atomics-wait-async`: `Atomics.waitAsync` (its event loop stays free),
 * - `message-port`: a `message` event on its port.
 * Shared-memory layout: [0] the last request number, [1] the last answered one; -1 stops.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { noop } from './tasks.js';

export type Wake = 'atomics-wait' | 'atomics-wait-async' | 'message-port';
export interface FloorData {
  wake: Wake;
  cells: Int32Array;
}

export const REQUEST = 0;
export const ANSWER = 1;
export const STOP = -1;

const { wake, cells } = (workerData ?? {}) as FloorData;

function answer(request: number): void {
  noop();
  Atomics.store(cells, ANSWER, request);
  Atomics.notify(cells, ANSWER);
}

if (wake === 'atomics-wait') {
  let seen = 0;
  for (;;) {
    Atomics.wait(cells, REQUEST, seen);
    seen = Atomics.load(cells, REQUEST);
    if (seen === STOP) break;
    answer(seen);
  }
} else if (wake === 'atomics-wait-async') {
  // A pending waitAsync does not keep a thread alive; an open port does.
  parentPort!.on('message', () => {});
  let seen = 0;
  for (;;) {
    const waited = Atomics.waitAsync(cells, REQUEST, seen);
    if (waited.async) await waited.value;
    seen = Atomics.load(cells, REQUEST);
    if (seen === STOP) break;
    answer(seen);
  }
} else if (wake === 'message-port') {
  parentPort!.on('message', (request: number) => {
    noop();
    parentPort!.postMessage(request);
  });
}
