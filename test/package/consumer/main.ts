// A new user's program: every call style, progress, a stream, a timeout, the decorator and every
// subpath export, as the package's types and files allow. Run compiled (out/main.js loads
// out/tasks.js) and through tsx (main.ts loads tasks.ts).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import express from 'express';
import Fastify from 'fastify';
import { Registry } from 'prom-client';
import { createPool, OffloadError, TimeoutError, type OffloadErrorCode, type PoolOptions } from 'offload';
import { offloadErrorHandler as expressErrors, offload as expressOffload } from 'offload/express';
import offloadPlugin from 'offload/fastify';
import { handle } from 'offload/http';
import { registerPoolMetrics } from 'offload/prometheus';
import { startRemoteWorker, type RemoteWorkerOptions } from 'offload/remote';
import type * as Tasks from './tasks.js';
import { Reports, reportsPool } from './tasks.js';

declare module 'offload/fastify' {
  interface Register {
    tasks: typeof Tasks;
  }
}

const extension = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
const options: PoolOptions = { size: 2, cancelGracePeriod: 100 };
const pool = createPool<typeof Tasks>(new URL(`./tasks.${extension}`, import.meta.url), options);

/** Never called: each line must be a type error, or tsc fails on the unused directive. */
export function typeErrors(): void {
  // @ts-expect-error add takes numbers
  void pool.tasks.add('1', 2);
  // @ts-expect-error no such task
  void pool.run('nope', []);
  // @ts-expect-error a generator task streams; run() refuses it
  void pool.run('countTo', [3]);
  // @ts-expect-error too few arguments
  pool.submit('add', [1], () => {});
  // @ts-expect-error stream() needs a generator task
  void pool.stream('add', [1, 2]);
  // @ts-expect-error the result is a number
  void pool.tasks.add(1, 2).then((text: string) => text);
  // @ts-expect-error a pool, not a function
  registerPoolMetrics(() => pool);
  // @ts-expect-error the queue is required
  const remote: RemoteWorkerOptions = { taskModule: new URL('file:///tasks.js'), connection: 'redis://127.0.0.1' };
  void remote;
  // @ts-expect-error not an error code
  const code: OffloadErrorCode = 'ERR_NOT_OURS';
  void code;
}

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  return `http://127.0.0.1:${address.port}`;
}

async function main(): Promise<void> {
  assert.equal(await pool.tasks.loadedFrom(), extension);
  assert.equal(await pool.tasks.add(2, 3), 5);
  assert.equal(await pool.run('add', [40, 2]), 42);
  const submitted = await new Promise<number>((resolve, reject) => pool.submit('add', [1, 1], (error, result) => (error ? reject(error) : resolve(result!))));
  assert.equal(submitted, 2);

  const seen: unknown[] = [];
  assert.equal(await pool.run('render', [3], { onProgress: (value) => seen.push(value) }), '3 pages');
  assert.deepEqual(seen.at(-1), { page: 3, of: 3 });

  const streamed: number[] = [];
  for await (const n of pool.tasks.countTo(5)) streamed.push(n);
  assert.deepEqual(streamed, [1, 2, 3, 4, 5]);
  const byName: number[] = [];
  for await (const n of pool.stream('countTo', [2])) byName.push(n);
  assert.deepEqual(byName, [1, 2]);

  const late = await pool.run('spin', [], { timeout: 50 }).then(
    () => assert.fail('a timed-out call resolved'),
    (error: unknown) => error,
  );
  assert.ok(late instanceof TimeoutError && late instanceof OffloadError);
  assert.equal(late.code, 'ERR_OFFLOAD_TIMEOUT');

  assert.equal(await new Reports().total([1, 2, 3]), 6);

  const fastify = Fastify();
  await fastify.register(offloadPlugin, { pool, closePool: false });
  fastify.get('/add', (request) => request.offload.tasks.add(20, 1));
  assert.equal((await fastify.inject('/add')).json(), 21);
  await fastify.close();

  const app = express();
  app.use(expressOffload(pool));
  app.get('/add', async (req, res) => void res.json(await req.offload.tasks.add(30, 1)));
  app.use(expressErrors());
  const expressServer = createServer(app);
  assert.equal(await (await fetch(`${await listen(expressServer)}/add`)).json(), 31);
  expressServer.close();

  const httpServer = createServer(handle(pool, (_request, _response, offload) => offload.tasks.add(40, 1)));
  assert.equal(await (await fetch(`${await listen(httpServer)}/`)).json(), 41);
  httpServer.close();

  const registry = new Registry();
  const metrics = registerPoolMetrics(pool, { registry });
  assert.match(await registry.metrics(), /offload_tasks_total\{[^}]*outcome="completed"[^}]*\} \d+/);
  metrics.unregister();

  assert.equal(typeof startRemoteWorker, 'function');

  await Promise.all([pool.close(), reportsPool.close()]);
  console.log(`consumer ok (${extension})`);
}

await main();
