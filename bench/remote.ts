/**
 * Remote executor against plain BullMQ, side by side in one run, on one redis-server of its own
 * (127.0.0.1, free port, no persistence). Both sides make the same no-op calls from producer
 * processes to worker processes of the same concurrency, with the same calls in flight:
 *
 *   - round-trip p50, one call at a time, 1 worker process
 *   - calls/s with 1 and with 2 worker processes
 *   - 4 producer processes together against 1, with the same total of calls
 *   - Redis `used_memory` 2 s after 1,000 calls returning 256 KiB each settled
 *   - Redis commands per call, from `INFO commandstats`
 *   - past one Redis: offload pools on 2 Redis servers (1 worker process each) composed as the
 *     README shows, against 2 worker processes on one Redis
 *
 * and prints offload/BullMQ ratios. Plain BullMQ is `Queue.add` + `job.waitUntilFinished()`
 * with one `QueueEvents` per producer, jobs removed once done.
 *
 *   npm run bench:remote
 */
import { Redis } from 'ioredis';
import { produce, startRedis, startWorkers as startWorkerProcesses, stop, type Kind } from './remote/processes.js';

const SEQUENTIAL = 1_000;
const CALLS = 4_000;
const IN_FLIGHT = 256;
const CONCURRENCY = 8;
const PRODUCERS = 4;
const BLOBS = 1_000;
const BLOB_BYTES = 256 * 1024;
const BLOB_IN_FLIGHT = 64;
const SETTLE_MS = 2_000;

const startWorkers = (kind: Kind, url: string, queue: string, count: number) => startWorkerProcesses(kind, url, queue, count, CONCURRENCY);

async function commandStats(redis: Redis): Promise<Map<string, number>> {
  const text = await redis.info('commandstats');
  const stats = new Map<string, number>();
  for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) stats.set(match[1]!, Number(match[2]));
  return stats;
}

async function usedMemory(redis: Redis): Promise<number> {
  const text = await redis.info('memory');
  return Number(/^used_memory:(\d+)/m.exec(text)![1]);
}

let queues = 0;

async function measure(kind: Kind, url: string, redis: Redis) {
  const out: Record<string, number> = {};
  const commands: Record<string, number> = {};
  // Latency and throughput with 1 worker process, then 2.
  for (const workerCount of [1, 2]) {
    const queue = `bench-${kind}-${++queues}`;
    const workers = await startWorkers(kind, url, queue, workerCount);
    try {
      if (workerCount === 1) {
        const latency = await produce({ kind, url, queue, mode: 'latency', count: SEQUENTIAL, window: 1 }, 1);
        out.p50 = latency.results[0]!.p50!;
      }
      let before = new Map<string, number>();
      const { wallMs } = await produce({ kind, url, queue, mode: 'throughput', count: CALLS, window: IN_FLIGHT }, 1, async () => {
        before = await commandStats(redis);
      });
      if (workerCount === 1) {
        const after = await commandStats(redis);
        for (const [name, calls] of after) {
          const delta = (calls - (before.get(name) ?? 0)) / CALLS;
          if (delta >= 0.01 && name !== 'info') commands[name] = delta;
        }
      }
      out[`perSecond${workerCount}`] = CALLS / (wallMs / 1000);
      if (workerCount === 2) {
        // The same total from PRODUCERS processes at once, each with its share in flight.
        const share = { kind, url, queue, mode: 'throughput' as const, count: CALLS / PRODUCERS, window: IN_FLIGHT / PRODUCERS };
        const together = await produce(share, PRODUCERS);
        out.producersPerSecond = CALLS / (together.wallMs / 1000);
      }
    } finally {
      await stop(workers);
    }
  }
  if (kind === 'offload') {
    // Past one Redis: a second redis-server, one worker process on each, one pool per Redis.
    const second = await startRedis();
    const queue = `bench-${kind}-${++queues}`;
    const workers = (await Promise.all([url, second.url].map((at) => startWorkers(kind, at, queue, 1)))).flat();
    try {
      const { wallMs } = await produce({ kind, url, urls: [url, second.url], queue, mode: 'throughput', count: CALLS, window: IN_FLIGHT }, 1);
      out.shardsPerSecond = CALLS / (wallMs / 1000);
    } finally {
      await stop(workers);
      second.stop();
    }
  }
  // Redis memory: 1,000 results of 256 KiB, read 2 s after the last call settled.
  const queue = `bench-${kind}-${++queues}`;
  const workers = await startWorkers(kind, url, queue, 1);
  try {
    let start = 0;
    await produce({ kind, url, queue, mode: 'blob', count: BLOBS, window: BLOB_IN_FLIGHT, size: BLOB_BYTES }, 1, async () => {
      start = await usedMemory(redis);
    });
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    out.memoryMiB = ((await usedMemory(redis)) - start) / 2 ** 20;
  } finally {
    await stop(workers);
  }
  return { out, commands };
}

const server = await startRedis();
const url = server.url;
const redis = new Redis(url);
try {
  const version = ((await redis.info('server')).match(/redis_version:(\S+)/) ?? [])[1];
  const { version: bullmq } = (await import('bullmq/package.json', { with: { type: 'json' } })).default as { version: string };
  console.log(
    `remote executor vs plain BullMQ ${bullmq}, Redis ${version}, Node ${process.version}; no-op task, ${IN_FLIGHT} calls in flight, ${CALLS} calls, ` +
      `worker concurrency ${CONCURRENCY}; load average ${(await import('node:os')).loadavg().map((l) => l.toFixed(2)).join(' ')}`,
  );
  const bullmqResult = await measure('bullmq', url, redis);
  const offloadResult = await measure('offload', url, redis);
  const b = bullmqResult.out;
  const o = offloadResult.out;
  const row = (label: string, bull: string, off: string, ratio: string): void => console.log(`${label.padEnd(44)}${bull.padStart(14)}${off.padStart(14)}${ratio.padStart(16)}`);
  const rate = (value: number): string => Math.round(value).toLocaleString('en-US');
  row('', 'plain BullMQ', 'offload', 'offload/BullMQ');
  row('round trip p50 (ms), 1 worker process', b.p50!.toFixed(2), o.p50!.toFixed(2), `${(o.p50! - b.p50!).toFixed(2)} ms`);
  row('calls/s, 1 worker process', rate(b.perSecond1!), rate(o.perSecond1!), `${(o.perSecond1! / b.perSecond1!).toFixed(2)}×`);
  row('calls/s, 2 worker processes', rate(b.perSecond2!), rate(o.perSecond2!), `${(o.perSecond2! / b.perSecond2!).toFixed(2)}×`);
  row('  2 worker processes / 1', `${(b.perSecond2! / b.perSecond1!).toFixed(2)}×`, `${(o.perSecond2! / o.perSecond1!).toFixed(2)}×`, '');
  row(`calls/s, ${PRODUCERS} producers together, 2 workers`, rate(b.producersPerSecond!), rate(o.producersPerSecond!), `${(o.producersPerSecond! / b.producersPerSecond!).toFixed(2)}×`);
  row(`  ${PRODUCERS} producers / 1`, `${(b.producersPerSecond! / b.perSecond2!).toFixed(2)}×`, `${(o.producersPerSecond! / o.perSecond2!).toFixed(2)}×`, '');
  row('calls/s, 2 Redis × 1 worker, pools composed', '', rate(o.shardsPerSecond!), '');
  row('  against 2 worker processes on one Redis', '', `${(o.shardsPerSecond! / o.perSecond2!).toFixed(2)}×`, '');
  row(`Redis memory 2 s after ${BLOBS} × 256 KiB (MiB)`, `+${b.memoryMiB!.toFixed(1)}`, `+${o.memoryMiB!.toFixed(1)}`, '');
  const names = [...new Set([...Object.keys(bullmqResult.commands), ...Object.keys(offloadResult.commands)])].sort();
  const total = (commands: Record<string, number>): number => Object.values(commands).reduce((sum, n) => sum + n, 0);
  row('Redis commands per call (1 worker process)', total(bullmqResult.commands).toFixed(2), total(offloadResult.commands).toFixed(2), `${(total(offloadResult.commands) / total(bullmqResult.commands)).toFixed(2)}×`);
  for (const name of names) row(`  ${name}`, (bullmqResult.commands[name] ?? 0).toFixed(2), (offloadResult.commands[name] ?? 0).toFixed(2), '');
} finally {
  redis.disconnect();
  server.stop();
}
