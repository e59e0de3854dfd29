/**
 * The demo's routes. Each heavy route runs its job in the pool through `request.offload` (so a
 * client that leaves cancels it) or, with `?inline=1`, on the main thread, blocking every other
 * request for as long as it takes.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { ORDER_COUNT } from './database.js';
import type { LoopDelay } from './event-loop.js';
import { hashPassword, renderImage } from './jobs.js';
import type * as Tasks from './tasks.js';

export interface RouteContext {
  registry: Registry;
  loop: { recent(): LoopDelay };
}

/** `?inline=1`: run the job on the main thread. */
const inlineFlag = { type: 'string', enum: ['0', '1'], default: '0' } as const;

function size(fallback: number) {
  return { type: 'integer', minimum: 16, maximum: 2048, default: fallback } as const;
}

export function registerRoutes(app: FastifyInstance, { registry, loop }: RouteContext): void {
  /** Inline jobs done on the main thread, for /health: the dashboard's inline bursts show here. */
  let inlineJobs = 0;
  // The report needs the database; the main thread opens its own connection only if asked to.
  let inlineReports: typeof Tasks | undefined;

  app.get('/', (request, reply) => {
    request.offload.submit('blockingTask', [10], (error, result) => {
      // To the error handler, which answers as for any route: a full queue is a 503 with Retry-After.
      if (error) reply.send(error instanceof Error ? error : new Error('The task failed', { cause: error }));
      else reply.type('text/html').send(`Test ${result}<br/>`);
    });
    return reply;
  });

  app.get('/health', async () => ({
    status: 'ok',
    eventLoopDelay: loop.recent(),
    inlineJobs,
    pool: app.offload.stats(),
  }));

  app.get('/metrics', async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()));

  app.get<{ Querystring: { limit: number; inline: '0' | '1' } }>(
    '/report',
    { schema: { querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 100, default: 10 }, inline: inlineFlag } } } },
    async (request) => {
      const { limit } = request.query;
      const inline = request.query.inline === '1';
      if (inline) {
        inlineReports ??= await import('./tasks.js');
        inlineJobs++;
        return { mode: 'inline', rows: inlineReports.topCustomers(limit) };
      }
      return { mode: 'offloaded', rows: await request.offload.tasks.topCustomers(limit) };
    },
  );

  app.get<{ Querystring: { password: string; inline: '0' | '1' } }>(
    '/hash',
    { schema: { querystring: { type: 'object', properties: { password: { type: 'string', maxLength: 256, default: 'correct horse battery staple' }, inline: inlineFlag } } } },
    async (request) => {
      const { password } = request.query;
      const inline = request.query.inline === '1';
      const salt = randomBytes(16).toString('hex');
      if (inline) {
        inlineJobs++;
        return { mode: 'inline', salt, hash: hashPassword(password, salt) };
      }
      return { mode: 'offloaded', salt, hash: await request.offload.tasks.hashPassword(password, salt) };
    },
  );

  const csvQuery = { type: 'object', properties: { rows: { type: 'integer', minimum: 1, maximum: ORDER_COUNT, default: 1000 } } };
  const csvHeaders = { 'content-type': 'text/csv', 'content-disposition': 'attachment; filename="orders.csv"' };
  // Fastify's automatic HEAD route would run the whole export on a worker and discard it.
  app.head('/report.csv', { schema: { querystring: csvQuery } }, (_request, reply) => reply.headers(csvHeaders).send());
  app.get<{ Querystring: { rows: number } }>(
    '/report.csv',
    { schema: { querystring: csvQuery }, exposeHeadRoute: false },
    async (request, reply) => {
      // A pipeline with backpressure: the response pulls lines from the worker's generator only
      // as fast as the client reads; a client that leaves destroys the stream, ending the generator.
      const lines = request.offload.stream('ordersCsv', [request.query.rows], { highWaterMark: 512 });
      return reply
        .type('text/csv')
        .header('content-disposition', 'attachment; filename="orders.csv"')
        // A client that stops reading stalls the stream (the pool's stallTimeout): the failure
        // must reach the response, which waits on the socket rather than on the stream.
        .send(Readable.from(lines, { signal: lines.signal }));
    },
  );

  app.get<{ Querystring: { width: number; height: number } }>(
    '/render-progress',
    { schema: { querystring: { type: 'object', properties: { width: size(1200), height: size(900) } } } },
    (request, reply) => {
      // Server-sent events: each progress() value of the render, then the end.
      reply.hijack();
      const response = reply.raw;
      response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
      const send = (event: string, data: unknown): void => void response.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      request.offload.tasks.renderImage
        .with({ onProgress: (value) => send('progress', value) })(request.query.width, request.query.height)
        .then(
          (png) => send('done', { bytes: png?.byteLength ?? 0 }),
          (error: unknown) => send('failed', { code: (error as { code?: string }).code ?? 'ERROR' }),
        )
        .finally(() => response.end());
    },
  );

  app.get<{ Querystring: { width: number; height: number; inline: '0' | '1' } }>(
    '/image',
    { schema: { querystring: { type: 'object', properties: { width: size(800), height: size(600), inline: inlineFlag } } } },
    async (request, reply) => {
      const { width, height } = request.query;
      const inline = request.query.inline === '1';
      if (inline) inlineJobs++;
      const png = inline ? renderImage(width, height) : await request.offload.tasks.renderImage(width, height);
      // Only a cancelled render returns nothing, and then the call has already failed.
      if (png === null) throw new Error('the render was cancelled');
      return reply.type('image/png').header('x-mode', inline ? 'inline' : 'offloaded').send(Buffer.from(png.buffer, png.byteOffset, png.byteLength));
    },
  );
}
