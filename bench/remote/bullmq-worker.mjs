// The floor the remote executor is built on: a plain BullMQ Worker running the same tasks.
// Plain JavaScript under plain node, as the offload worker runs from dist.
//   node bench/remote/bullmq-worker.mjs <redis url> <queue> <concurrency>
import { Worker } from 'bullmq';
import * as tasks from '../tasks/remote.mjs';

const [url, queue, concurrency] = process.argv.slice(2);
const worker = new Worker(queue, async (job) => tasks[job.name](...job.data.args), {
  connection: { url },
  concurrency: Number(concurrency),
});
await worker.waitUntilReady();
console.log('ready');
process.once('SIGTERM', () => void worker.close().then(() => process.exit(0)));
