// A plain BullMQ Worker that adds the `offload worker`'s pieces one level at a time, for
// bench/remote-decompose.ts. Plain JavaScript under plain node, as the offload worker runs.
//   node bench/remote/decompose-worker.mjs <redis url> <queue> <concurrency> <level> <prefix> <codec module>
// Levels: a = run the task, nothing else (bench/remote/bullmq-worker.mjs); b = + a reply pushed
// per job on the worker's connection, as offload's `send` (its Lua push); c = + decodeArgs / encodeEntry;
// r = c + the task through bare worker_threads (one task per thread at a time), the floor of d;
// d = c + the task through a local offload thread pool (`pool.run`).
import { startRawThreads } from './raw-threads.mjs';
import { Worker } from 'bullmq';
import { createPool } from '../../dist/index.js';
import * as tasks from '../tasks/remote.mjs';

const [url, queue, concurrency, level, prefix, codecPath] = process.argv.slice(2);
const { decodeArgs, encodeEntry, producerOf, replyList, replyPusher, Reply, REPLY_TTL_MS } = await import(codecPath);
const LIMIT = 8 * 1024 * 1024;
const size = Number(concurrency);

const pool = level === 'd' ? createPool(new URL('../tasks/remote.mjs', import.meta.url), { size, minSize: size, idleTimeout: Infinity }) : undefined;
await pool?.warmup();
const threads = level === 'r' ? await startRawThreads(size) : undefined;

let push;
// A job of plain BullMQ's producer names no reply list: its reply goes to one the bench drops.
const listOf = (jobId) => {
  const producer = producerOf(jobId);
  return producer === undefined ? `${prefix}:${queue}:decompose-sink` : replyList(prefix, queue, producer);
};
const send = (jobId, entry) => {
  push(listOf(jobId), entry).catch((error) => console.error(error));
};
// Level b's reply: the same bytes offload sends for `add`'s result, encoded once.
const encodedOk = encodeEntry('', [Reply.Ok, 0, 2], LIMIT).subarray(1);
const argsOf = (job) => (typeof job.data.args === 'string' ? decodeArgs(job.data, LIMIT) : job.data.args);

const processors = {
  a: async (job) => tasks[job.name](...job.data.args),
  b: async (job) => {
    send(job.id, Buffer.concat([Buffer.from(job.id, 'latin1'), Buffer.from([0]), encodedOk]));
  },
  c: async (job) => {
    const args = argsOf(job);
    const value = tasks[job.name](...args);
    send(job.id, encodeEntry(job.id, [Reply.Ok, 0, value], LIMIT));
  },
  r: async (job) => {
    const args = argsOf(job);
    const value = await threads.run(job.name, args);
    send(job.id, encodeEntry(job.id, [Reply.Ok, 0, value], LIMIT));
  },
  d: async (job) => {
    const args = argsOf(job);
    const value = await pool.run(job.name, args);
    send(job.id, encodeEntry(job.id, [Reply.Ok, 0, value], LIMIT));
  },
};
const worker = new Worker(queue, processors[level], { connection: { url }, concurrency: size, prefix });
push = replyPusher(await worker.getBackend().client, REPLY_TTL_MS);
await worker.waitUntilReady();
console.log('ready');
process.once('SIGTERM', () => void worker.close().then(() => Promise.all([pool?.close(), threads?.close()])).then(() => process.exit(0)));
