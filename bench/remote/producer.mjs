// One producer process of the remote bench: plain BullMQ (`Queue.add` + `waitUntilFinished`),
// an offload remote pool, or offload pools on several Redis servers (`urls`), making the same calls. It warms up, prints "ready", waits for
// "go" on stdin (so that several producers start together), runs, and prints its timings.
//   node bench/remote/producer.mjs '<json: kind, url, queue, mode, count, window>'
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { Queue, QueueEvents } from 'bullmq';
import { createPool } from '../../dist/index.js';

const { kind, url, urls, queue, mode, count, window, size } = JSON.parse(process.argv[2]);
const tasksUrl = new URL('../tasks/remote.mjs', import.meta.url);

function bullmqClient() {
  const jobs = new Queue(queue, { connection: { url } });
  // From the stream's start, not '$': QueueEvents is "ready" once connected, before its first
  // read, and a job finished in between would never be heard of (the warm-up hung on it).
  const events = new QueueEvents(queue, { connection: { url }, lastEventId: '0-0' });
  // A queue that keeps every job grows forever; removing jobs at once races waitUntilFinished
  // ("Missing key for job"), so the last 1,000 are kept, as BullMQ's guide suggests.
  const options = { removeOnComplete: { count: 1000 }, removeOnFail: { count: 1000 } };
  // waitUntilFinished listens for the queue's closing once per call in flight.
  jobs.setMaxListeners(window + 10);
  return {
    ready: () => Promise.all([jobs.waitUntilReady(), events.waitUntilReady()]),
    call: async (name, args) => (await jobs.add(name, { args }, options)).waitUntilFinished(events),
    close: () => Promise.all([jobs.close(), events.close()]),
  };
}

/**
 * Plain BullMQ adding jobs as an offload pool does (a custom job id, removed once complete, one
 * attempt), awaiting each one's completion event, for the decomposition bench.
 */
function bullmqWithOffloadOptionsClient() {
  const jobs = new Queue(queue, { connection: { url } });
  const events = new QueueEvents(queue, { connection: { url }, lastEventId: '0-0' });
  const producer = randomUUID();
  const waiting = new Map();
  events.on('completed', ({ jobId }) => {
    waiting.get(jobId)?.();
    waiting.delete(jobId);
  });
  let n = 0;
  return {
    ready: () => Promise.all([jobs.waitUntilReady(), events.waitUntilReady()]),
    call: async (name, args) => {
      const jobId = `${producer}-${++n}`;
      const done = new Promise((resolve) => waiting.set(jobId, resolve));
      await jobs.add(name, { args }, { jobId, removeOnComplete: true, removeOnFail: true, attempts: 1 });
      return done;
    },
    close: () => Promise.all([jobs.close(), events.close()]),
  };
}

function offloadClient() {
  const pool = createPool(tasksUrl, { executor: 'remote', connection: url, queue, maxInFlight: window });
  return { ready: () => pool.warmup(), call: (name, args) => pool.run(name, args), close: () => pool.close() };
}

/** Past one Redis, as the README composes it: one pool per Redis, each call to the least loaded. */
function shardedClient() {
  const shards = urls.map((connection) => createPool(tasksUrl, { executor: 'remote', connection, queue, maxInFlight: window }));
  const load = (pool) => {
    const { queued, busy } = pool.stats();
    return queued * 1e6 + busy;
  };
  const pick = () => shards.reduce((a, b) => (load(b) < load(a) ? b : a));
  return {
    ready: () => Promise.all(shards.map((pool) => pool.warmup())),
    call: (name, args) => pick().run(name, args),
    close: () => Promise.all(shards.map((pool) => pool.close())),
  };
}

const client = kind === 'bullmq' ? bullmqClient() : kind === 'bullmq-offload-options' ? bullmqWithOffloadOptionsClient() : urls !== undefined ? shardedClient() : offloadClient();
await client.ready();
let n = 0;
const add = () => client.call('add', [n++, 1]);
const call = mode === 'blob' ? () => client.call('blob', [size]) : add;
for (let i = 0; i < 200; i++) await add();
console.log('ready');
const lines = createInterface({ input: process.stdin });
await new Promise((resolve) => lines.once('line', resolve));

const result = {};
if (mode === 'latency') {
  const times = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await call();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  result.p50 = times[Math.floor(times.length / 2)];
} else {
  const began = performance.now();
  await new Promise((resolve) => {
    let sent = 0;
    let done = 0;
    const next = () => {
      if (++done === count) resolve();
      else if (sent < count) {
        sent++;
        void call().then(next);
      }
    };
    for (; sent < Math.min(window, count); sent++) void call().then(next);
  });
  result.ms = performance.now() - began;
}
console.log(JSON.stringify(result));
await client.close();
lines.close();
