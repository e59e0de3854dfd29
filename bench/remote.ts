/**
 * Remote round trip: a no-op task through Redis to `offload worker` processes and back.
 * Sequential latency (one call at a time) and throughput (many calls in flight) with 1, then 2
 * worker processes. Starts its own redis-server on a free port of 127.0.0.1 and stops it.
 *
 *   npm run bench:remote
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { createPool } from '../src/index.js';
import { timeCalls } from './call-timing.js';

const SEQUENTIAL = 2_000;
const THROUGHPUT = 20_000;
const IN_FLIGHT = 256;
const POOL_SIZE = 64;
const WORKER_SIZE = 4;
const root = new URL('..', import.meta.url).pathname;
const cli = new URL('../dist/cli.js', import.meta.url).pathname;
const tasks = new URL('./tasks/add.mjs', import.meta.url).pathname;

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

async function startWorker(url: string, queue: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [cli, 'worker', tasks, '--redis', url, '--queue', queue, '--size', String(WORKER_SIZE)], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await once(child.stdout!, 'data'); // "offload worker ready"
  return child;
}

async function measure(url: string, queue: string): Promise<{ p50: number; p99: number; perSecond: number }> {
  const pool = createPool<{ add(a: number, b: number): number }>(new URL(`file://${tasks}`), {
    executor: 'remote',
    connection: url,
    queue,
    size: POOL_SIZE,
  });
  await pool.warmup();
  let n = 0;
  const timing = await timeCalls(() => pool.tasks.add(n++, 1), { warmUp: 200, sequential: SEQUENTIAL, total: THROUGHPUT, window: IN_FLIGHT });
  await pool.close();
  return timing;
}

const port = await freePort();
const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
await new Promise((resolve) => setTimeout(resolve, 300));
const url = `redis://127.0.0.1:${port}`;
const workers: ChildProcess[] = [];
try {
  console.log(`remote no-op round trip, Node ${process.version}, pool size ${POOL_SIZE}, ${WORKER_SIZE} threads per worker, ${IN_FLIGHT} calls in flight`);
  for (const count of [1, 2]) {
    const queue = `bench-${count}`;
    for (let i = 0; i < count; i++) workers.push(await startWorker(url, queue));
    const result = await measure(url, queue);
    console.log(
      `${count} worker process${count === 1 ? '' : 'es'}: p50 ${result.p50.toFixed(2)} ms   p99 ${result.p99.toFixed(2)} ms   ${Math.round(result.perSecond).toLocaleString('en-US')} tasks/s`,
    );
    for (const worker of workers.splice(0)) {
      worker.kill('SIGTERM');
      await once(worker, 'exit');
    }
  }
} finally {
  for (const worker of workers) worker.kill('SIGKILL');
  redis.kill('SIGKILL');
}
