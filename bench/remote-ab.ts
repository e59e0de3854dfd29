/**
 * A/B of the `offload worker` process: two builds of offload (each a tree with a built `dist/`)
 * serve the same calls, alternately in rounds, on one redis-server of their own, with plain
 * BullMQ's `Worker` as the floor in every round. Per side and round:
 *
 *   - CPU per call of the worker process (user + system, all its threads, from /proc/<pid>/stat)
 *     over CALLS no-op calls with IN_FLIGHT in flight, and the calls/s of that run
 *   - the round-trip p50 of SEQUENTIAL calls made one at a time
 *
 * and medians over the rounds. The producers are this tree's, for both sides: only the worker
 * differs.
 *
 *   npm run build && node --import tsx bench/remote-ab.ts <tree A> [tree B = this one] [rounds = 5]
 */
import { resolve } from 'node:path';
import { loadavg } from 'node:os';
import { cpuMs, produce, startRedis, startWorkers, stop, type Kind } from './remote/processes.js';

const CALLS = 4_000;
const IN_FLIGHT = 256;
const SEQUENTIAL = 500;
const CONCURRENCY = 8;

const [treeA, treeB = new URL('..', import.meta.url).pathname, rounds = '5'] = process.argv.slice(2);
if (treeA === undefined) throw new Error('usage: remote-ab.ts <tree A> [tree B] [rounds]');
const sides: Array<{ label: string; kind: Kind; cli?: string }> = [
  { label: 'A', kind: 'offload', cli: resolve(treeA, 'dist/cli.js') },
  { label: 'B', kind: 'offload', cli: resolve(treeB, 'dist/cli.js') },
  { label: 'BullMQ', kind: 'bullmq' },
];
interface Sample { cpuPerCall: number; perSecond: number; p50: number }
const samples = new Map<string, Sample[]>(sides.map(({ label }) => [label, []]));
const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

const redis = await startRedis();
let queues = 0;
console.log(`A = ${treeA}, B = ${treeB}; ${rounds} rounds; load average at start ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
try {
  for (let round = 0; round < Number(rounds); round++) {
    // Alternate the order, so neither side always runs first after the other warmed Redis.
    const order = round % 2 === 0 ? sides : [...sides].reverse();
    for (const { label, kind, cli } of order) {
      const queue = `ab-${++queues}`;
      const [worker] = await startWorkers(kind, redis.url, queue, 1, CONCURRENCY, cli);
      try {
        let before = 0;
        const throughput = await produce({ kind, url: redis.url, queue, mode: 'throughput', count: CALLS, window: IN_FLIGHT }, 1, async () => {
          before = cpuMs(worker!.pid!);
        });
        const cpuPerCall = (cpuMs(worker!.pid!) - before) / CALLS;
        const latency = await produce({ kind, url: redis.url, queue, mode: 'latency', count: SEQUENTIAL, window: 1 }, 1);
        const sample = { cpuPerCall, perSecond: CALLS / (throughput.wallMs / 1000), p50: latency.results[0]!.p50! };
        samples.get(label)!.push(sample);
        console.log(`round ${round + 1} ${label.padEnd(7)} cpu/call ${cpuPerCall.toFixed(3)} ms  ${Math.round(sample.perSecond)} calls/s  p50 ${sample.p50.toFixed(2)} ms  load ${loadavg()[0]!.toFixed(2)}`);
      } finally {
        await stop([worker!]);
      }
    }
  }
} finally {
  redis.stop();
}
console.log(`medians over ${rounds} rounds; load average at end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
for (const { label } of sides) {
  const runs = samples.get(label)!;
  console.log(
    `${label.padEnd(7)} cpu/call ${median(runs.map((s) => s.cpuPerCall)).toFixed(3)} ms  ${Math.round(median(runs.map((s) => s.perSecond)))} calls/s  p50 ${median(runs.map((s) => s.p50)).toFixed(2)} ms`,
  );
}
