/**
 * The demo server: `npm start`, then open http://127.0.0.1:8888/.
 *
 *   GET /        the seed's answer, `Test 10<br/>`, from blockingTask(10) in the pool
 *   GET /health  answers at once, however busy the pool is
 *   GET /report  a blocking SQLite report query, run in the pool (?inline=1 runs it here, to compare)
 */
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';
import { createPool, type Pool } from 'offload';
import { ensureDatabase } from './database.js';
import type * as Tasks from './tasks.js';

export interface DemoOptions {
  databasePath?: string;
  poolSize?: number;
}

export async function buildDemo(options: DemoOptions = {}): Promise<{ app: FastifyInstance; pool: Pool<typeof Tasks> }> {
  const databasePath = options.databasePath ?? process.env.OFFLOAD_DEMO_DB ?? fileURLToPath(new URL('../.data/demo.db', import.meta.url));
  ensureDatabase(databasePath);
  process.env.OFFLOAD_DEMO_DB = databasePath;
  const pool = createPool<typeof Tasks>(new URL('./tasks.ts', import.meta.url), {
    name: 'demo',
    size: options.poolSize ?? 4,
    maxQueue: 1000,
  });
  // For the inline comparison only: the same query on the main thread, blocking it.
  let inline: typeof Tasks | undefined;

  const app = Fastify({ logger: false });
  app.addHook('onClose', () => pool.close());

  app.get('/', (_request, reply) => {
    pool.submit('blockingTask', [10], (error, result) => {
      if (error) reply.code(500).send('task failed');
      else reply.type('text/html').send(`Test ${result}<br/>`);
    });
    return reply;
  });

  app.get('/health', async () => ({ status: 'ok', pool: pool.stats() }));

  app.get<{ Querystring: { limit?: string; inline?: string } }>('/report', async (request) => {
    const limit = Math.min(100, Math.max(1, Number(request.query.limit ?? 10) || 10));
    if (request.query.inline === '1') {
      inline ??= await import('./tasks.js');
      return { mode: 'inline', rows: inline.topCustomers(limit) };
    }
    return { mode: 'offloaded', rows: await pool.tasks.topCustomers(limit) };
  });

  return { app, pool };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { app } = await buildDemo();
  const port = Number(process.env.PORT ?? 8888);
  const host = process.env.HOST ?? '127.0.0.1';
  const address = await app.listen({ port, host });
  console.log(`offload demo on ${address}/  (try /report, /report?inline=1, /health)`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    // Stop accepting first, then drain the pool (Fastify's onClose hook closes it).
    process.once(signal, () => void app.close().then(() => process.exit(0)));
  }
}
