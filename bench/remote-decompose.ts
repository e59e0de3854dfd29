/**
 * Where the `offload worker` process's CPU per job goes: a plain BullMQ `Worker` whose processor
 * adds offload's pieces one at a time (bench/remote/decompose-worker.mjs), then the real
 * `offload worker`, all served the same calls in alternating rounds on one redis-server of their
 * own. Per variant: the worker process's CPU per call (all threads, and its main thread alone) and Redis's (user + system, from
 * /proc/<pid>/stat) over CALLS no-op calls with IN_FLIGHT in flight, the calls/s of that run,
 * Redis commands per call by type (`INFO commandstats`, scripts' inner commands included), and
 * the p50 of SEQUENTIAL calls made one at a time. Medians over the rounds.
 *
 *   npm run build && node --import tsx bench/remote-decompose.ts [rounds = 3]
 */
import { rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { Redis } from 'ioredis';
import { cpuMs, produce, startProcess, startRedis, startWorkers, stop, type ProducerKind } from './remote/processes.js';

const CALLS = 4_000;
const IN_FLIGHT = 256;
const SEQUENTIAL = 300;
const CONCURRENCY = 8;
const rounds = Number(process.argv[2] ?? 3);

// The decomposition worker runs under plain node, like the offload worker: it gets offload's
// codec and reply push as one bundled module.
const codec = join(tmpdir(), `offload-decompose-codec-${process.pid}.mjs`);
buildSync({
  stdin: { contents: "export * from './codec.ts'; export * from './reply-push.ts';", resolveDir: new URL('../src/remote/', import.meta.url).pathname, loader: 'ts' },
  bundle: true,
  format: 'esm',
  platform: 'node',
  packages: 'external',
  outfile: codec,
  logLevel: 'warning',
});
const decomposeWorker = new URL('./remote/decompose-worker.mjs', import.meta.url).pathname;

interface Variant { label: string; producer: ProducerKind; level: 'a' | 'b' | 'c' | 'r' | 'd' | 'e' }
const variants: Variant[] = [
  { label: 'a  BullMQ producer', producer: 'bullmq', level: 'a' },
  { label: 'a  BullMQ producer, offload job options', producer: 'bullmq-offload-options', level: 'a' },
  { label: 'b  BullMQ producer', producer: 'bullmq', level: 'b' },
  { label: 'b  offload producer', producer: 'offload', level: 'b' },
  { label: 'c  offload producer', producer: 'offload', level: 'c' },
  { label: 'r  offload producer', producer: 'offload', level: 'r' },
  { label: 'd  offload producer', producer: 'offload', level: 'd' },
  { label: 'e  offload worker', producer: 'offload', level: 'e' },
];
interface Sample { workerCpu: number; mainCpu: number; redisCpu: number; perSecond: number; p50: number; commands: Map<string, number> }
const samples = new Map<string, Sample[]>(variants.map(({ label }) => [label, []]));
const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

async function commandStats(redis: Redis): Promise<Map<string, number>> {
  const text = await redis.info('commandstats');
  const stats = new Map<string, number>();
  for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) stats.set(match[1]!, Number(match[2]));
  return stats;
}

const redis = await startRedis();
const admin = new Redis(redis.url);
let queues = 0;
console.log(`${rounds} rounds, ${CALLS} calls, ${IN_FLIGHT} in flight, concurrency ${CONCURRENCY}; load average at start ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
try {
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    for (const { label, producer, level } of order) {
      const queue = `decompose-${++queues}`;
      const prefix = producer === 'offload' ? 'offload' : 'bull';
      const worker =
        level === 'e'
          ? (await startWorkers('offload', redis.url, queue, 1, CONCURRENCY))[0]!
          : await startProcess([decomposeWorker, redis.url, queue, String(CONCURRENCY), level, prefix, codec]);
      try {
        let before = { worker: 0, main: 0, redis: 0, commands: new Map<string, number>() };
        const run = { kind: producer, url: redis.url, queue, mode: 'throughput' as const, count: CALLS, window: IN_FLIGHT };
        const throughput = await produce(run, 1, async () => {
          before = { worker: cpuMs(worker.pid!), main: cpuMs(worker.pid!, true), redis: cpuMs(redis.pid), commands: await commandStats(admin) };
        });
        const after = { worker: cpuMs(worker.pid!), main: cpuMs(worker.pid!, true), redis: cpuMs(redis.pid), commands: await commandStats(admin) };
        const commands = new Map<string, number>();
        for (const [name, calls] of after.commands) commands.set(name, (calls - (before.commands.get(name) ?? 0)) / CALLS);
        const latency = await produce({ ...run, mode: 'latency', count: SEQUENTIAL, window: 1 }, 1);
        const sample: Sample = {
          workerCpu: (after.worker - before.worker) / CALLS,
          mainCpu: (after.main - before.main) / CALLS,
          redisCpu: (after.redis - before.redis) / CALLS,
          perSecond: CALLS / (throughput.wallMs / 1000),
          p50: latency.results[0]!.p50!,
          commands,
        };
        samples.get(label)!.push(sample);
        console.log(`round ${round + 1} ${label.padEnd(40)} worker ${sample.workerCpu.toFixed(3)} (main thread ${sample.mainCpu.toFixed(3)}) ms/call  redis ${sample.redisCpu.toFixed(3)} ms/call  ${Math.round(sample.perSecond)} calls/s  p50 ${sample.p50.toFixed(2)} ms  load ${loadavg()[0]!.toFixed(2)}`);
      } finally {
        await stop([worker]);
        await admin.del(`${prefix}:${queue}:decompose-sink`);
      }
    }
  }
} finally {
  admin.disconnect();
  redis.stop();
  rmSync(codec, { force: true });
}
console.log(`\nmedians over ${rounds} rounds; load average at end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log('| variant | worker CPU ms/call | of which main thread | Redis CPU ms/call | calls/s | p50 ms | Redis commands per call |');
console.log('|---|---|---|---|---|---|---|');
for (const { label } of variants) {
  const runs = samples.get(label)!;
  const names = new Set(runs.flatMap((sample) => [...sample.commands.keys()]));
  const commands = [...names]
    .map((name) => [name, median(runs.map((sample) => sample.commands.get(name) ?? 0))] as const)
    .filter(([name, perCall]) => perCall >= 0.05 && name !== 'info')
    .sort((a, b) => b[1] - a[1])
    .map(([name, perCall]) => `${name} ${perCall.toFixed(2)}`)
    .join(', ');
  const total = median(runs.map((sample) => [...sample.commands].filter(([name]) => name !== 'info').reduce((sum, [, perCall]) => sum + perCall, 0)));
  console.log(
    `| ${label} | ${median(runs.map((s) => s.workerCpu)).toFixed(3)} | ${median(runs.map((s) => s.mainCpu)).toFixed(3)} | ${median(runs.map((s) => s.redisCpu)).toFixed(3)} | ${Math.round(median(runs.map((s) => s.perSecond)))} | ${median(runs.map((s) => s.p50)).toFixed(2)} | ${total.toFixed(1)}: ${commands} |`,
  );
}
