import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { ClosedError, createPool } from 'offload';
import offload from 'offload/fastify';
import { fixture, rejection } from './helpers.js';
import type { HttpTasks } from './http-servers.js';

test('the Fastify plugin decorates the app with the pool, leaves Fastify its own 4xx, and closes the pool in onClose', async () => {
  const pool = createPool<HttpTasks>(fixture('http-tasks.ts'), { size: 1 });
  const app = Fastify({ logger: false });
  await app.register(offload, { pool });
  app.get<{ Querystring: { n: number } }>(
    '/square',
    { schema: { querystring: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] } } },
    async (request) => ({ value: await request.offload.of(pool).tasks.echo(request.query.n ** 2) }),
  );
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  try {
    assert.equal(app.offload, pool);
    assert.deepEqual(await (await fetch(`${base}/square?n=7`)).json(), { value: 49 });
    // Validation is Fastify's own client error: its default handler answers it, unchanged.
    const invalid = await fetch(`${base}/square?n=seven`);
    assert.equal(invalid.status, 400);
    assert.equal(((await invalid.json()) as { code: string }).code, 'FST_ERR_VALIDATION');
  } finally {
    await app.close();
  }
  const error = await rejection(pool.tasks.echo(1));
  assert.ok(error instanceof ClosedError);
  assert.equal(error.code, 'ERR_OFFLOAD_CLOSED');
});

test('the Fastify plugin refuses options without a pool', async () => {
  const app = Fastify({ logger: false });
  // @ts-expect-error -- a pool is required
  await assert.rejects(app.register(offload, {}).ready(), /options\.pool must be a pool/);
});
