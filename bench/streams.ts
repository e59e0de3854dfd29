/**
 * Streaming throughput: 1,000,000 small items, and 1 GiB in 64 KiB chunks (transferred), through
 * offload's generator streams beside a hand-written MessagePort loop with the same credit-based
 * backpressure, in the same run. Prints the main process's RSS at the start and end of the 1 GiB
 * stream. `npm run bench:streams` (after `npm run build`).
 */
import { Worker } from 'node:worker_threads';
import { createPool } from '../dist/index.js';

const ITEMS = 1_000_000;
const TOTAL = 1024 ** 3;
const CHUNK = 64 * 1024;
const HIGH_WATER = 1024;
const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(0);

/** A worker that streams on request, with credit: the baseline a user would write by hand. */
function handWritten(): { stream(kind: 'items' | 'chunks', onItem: (item: unknown) => void): Promise<void>; close(): Promise<number> } {
  const source = `
    const { parentPort } = require('node:worker_threads');
    let credit = 0, wake;
    parentPort.on('message', async (m) => {
      if (m.pull) { credit += m.pull; if (wake) { const w = wake; wake = undefined; w(); } return; }
      credit = ${HIGH_WATER};
      let batch = [], transfer = [];
      const flush = () => { if (batch.length) { parentPort.postMessage({ items: batch }, transfer); batch = []; transfer = []; } };
      const total = m.kind === 'items' ? ${ITEMS} : ${TOTAL / CHUNK};
      for (let i = 0; i < total; i++) {
        if (credit === 0) { flush(); await new Promise((r) => (wake = r)); }
        if (m.kind === 'items') batch.push(i);
        else { const c = new Uint8Array(${CHUNK}); batch.push(c); transfer.push(c.buffer); }
        credit--;
        if (batch.length === 256) flush();
      }
      flush();
      parentPort.postMessage({ done: true });
    });`;
  const worker = new Worker(source, { eval: true });
  return {
    stream(kind, onItem) {
      return new Promise((resolve) => {
        let taken = 0;
        const onMessage = (m: { items?: unknown[]; done?: boolean }): void => {
          if (m.done) {
            worker.off('message', onMessage);
            resolve();
            return;
          }
          for (const item of m.items!) onItem(item);
          taken += m.items!.length;
          if (taken >= HIGH_WATER / 2) {
            worker.postMessage({ pull: taken });
            taken = 0;
          }
        };
        worker.on('message', onMessage);
        worker.postMessage({ kind });
      });
    },
    close: () => worker.terminate(),
  };
}

async function time(run: () => Promise<void>): Promise<number> {
  const began = performance.now();
  await run();
  return (performance.now() - began) / 1000;
}

const rounds = Number(process.argv[2] ?? 3);
const results = { handItems: [] as number[], offloadItems: [] as number[], handMBs: [] as number[], offloadMBs: [] as number[] };
interface StreamTasks {
  smallItems(n: number): Generator<number>;
  chunks(totalBytes: number, chunkBytes: number): Generator<Uint8Array>;
}
const pool = createPool<StreamTasks>(new URL('./tasks/streams.mjs', import.meta.url), { size: 1 });
await pool.warmup();
const hand = handWritten();
let rss = { start: 0, end: 0 };
for (let round = 0; round < rounds; round++) {
  let count = 0;
  results.handItems.push(ITEMS / (await time(() => hand.stream('items', () => count++))));
  results.offloadItems.push(
    ITEMS /
      (await time(async () => {
        for await (const item of pool.stream('smallItems', [ITEMS], { highWaterMark: HIGH_WATER })) count += item === -1 ? 0 : 1;
      })),
  );
  let bytes = 0;
  results.handMBs.push(TOTAL / 1024 / 1024 / (await time(() => hand.stream('chunks', (c) => (bytes += (c as Uint8Array).byteLength)))));
  const startRss = process.memoryUsage().rss;
  results.offloadMBs.push(
    TOTAL /
      1024 /
      1024 /
      (await time(async () => {
        for await (const chunk of pool.stream('chunks', [TOTAL, CHUNK], { highWaterMark: HIGH_WATER })) bytes += chunk.byteLength;
      })),
  );
  rss = { start: startRss, end: process.memoryUsage().rss };
}
await hand.close();
await pool.close();

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const row = (label: string, hand: number, ours: number, unit: string): string =>
  `${label.padEnd(26)} hand-written ${Math.round(hand).toLocaleString('en-US').padStart(11)} ${unit}   offload ${Math.round(ours).toLocaleString('en-US').padStart(11)} ${unit}   ×${(ours / hand).toFixed(2)}`;
console.log(`streams, medians of ${rounds} rounds, Node ${process.version}, highWaterMark ${HIGH_WATER}`);
console.log(row('1,000,000 small items', median(results.handItems), median(results.offloadItems), 'items/s'));
console.log(row('1 GiB in 64 KiB chunks', median(results.handMBs), median(results.offloadMBs), 'MB/s'));
console.log(`main RSS during the last 1 GiB stream: ${mb(rss.start)} MB at the start, ${mb(rss.end)} MB at the end`);
