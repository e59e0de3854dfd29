/**
 * The platform's floor under every pool's round trip, measured beside the raw baseline (run for
 * the `raw` pool only): one worker answering no-op requests, woken by `Atomics.wait`/`notify`,
 * by `Atomics.waitAsync`, or by a `MessagePort` message. The main thread awaits every answer,
 * as any pool's caller does (`Atomics.waitAsync` for the shared-memory floors).
 */
import { Worker } from 'node:worker_threads';
import { ANSWER, REQUEST, STOP, type FloorData, type Wake } from '../workers/floor.js';
import { ascending, percentile } from '../stats.js';
import { sequential } from './load.js';
import type { Metrics, Scenario } from './scenario.js';

const FLOOR_FILE = new URL('../workers/floor.js', import.meta.url);
const WAKES: ReadonlyArray<[Wake, string]> = [
  ['atomics-wait', 'atomicsWait'],
  ['atomics-wait-async', 'atomicsWaitAsync'],
  ['message-port', 'messagePort'],
];

interface Floor {
  call(): Promise<unknown>;
  close(): Promise<unknown>;
}

function startFloor(wake: Wake): Floor {
  const cells = new Int32Array(new SharedArrayBuffer(8));
  const data: FloorData = { wake, cells };
  const worker = new Worker(FLOOR_FILE, { workerData: data });
  if (wake === 'message-port') {
    let next = 0;
    let resolve: (value: unknown) => void = () => {};
    worker.on('message', (value: unknown) => resolve(value));
    return {
      call: () =>
        new Promise((settle) => {
          resolve = settle;
          worker.postMessage(++next);
        }),
      close: () => worker.terminate(),
    };
  }
  let request = 0;
  return {
    call: async () => {
      const previous = Atomics.load(cells, ANSWER);
      Atomics.store(cells, REQUEST, ++request);
      Atomics.notify(cells, REQUEST);
      const waited = Atomics.waitAsync(cells, ANSWER, previous);
      if (waited.async) await waited.value;
    },
    close: () => {
      Atomics.store(cells, REQUEST, STOP);
      Atomics.notify(cells, REQUEST);
      return worker.terminate();
    },
  };
}

export const floors: Scenario = async ({ pool, measureMs }) => {
  const metrics: Metrics = {};
  if (pool !== 'raw') return metrics;
  for (const [wake, name] of WAKES) {
    const floor = startFloor(wake);
    await sequential(floor.call, Math.min(1_000, measureMs / 2)); // warm-up, worker started
    const times = ascending(await sequential(floor.call, measureMs));
    await floor.close();
    metrics[`${name}P50Us`] = percentile(times, 50) * 1_000;
    metrics[`${name}P99Us`] = percentile(times, 99) * 1_000;
  }
  return metrics;
};
