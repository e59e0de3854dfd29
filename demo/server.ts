/**
 * The demo server: `npm start`, then open http://127.0.0.1:8888/dashboard.
 *
 *   GET /           the seed's answer, `Test 10<br/>`, from blockingTask(10) in the pool
 *   GET /report     a blocking SQLite report query           } in the pool; `?inline=1` runs the
 *   GET /hash       a password hash at scrypt's default cost } same work on the main thread, to
 *   GET /image      a Mandelbrot PNG, an image-sized job     } see what blocking does
 *   GET /health     answers at once, with pool stats and the event-loop delay
 *   GET /metrics    Prometheus metrics (offload/prometheus)
 *   GET /dashboard  the live dashboard
 *
 * `OFFLOAD_TRACE=console` prints each request's trace, across the worker boundary (tracing.ts).
 */
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';
import { createPool, type Pool } from 'offload';
import offload from 'offload/fastify';
import { registerPoolMetrics } from 'offload/prometheus';
import { Registry } from 'prom-client';
import { registerDashboard } from './dashboard.js';
import { ensureDatabase } from './database.js';
import { watchEventLoop } from './event-loop.js';
import { registerRoutes } from './routes.js';
import { traceRequests } from './tracing.js';
import type * as Tasks from './tasks.js';

// Types `app.offload` and `request.offload` from the task module, for the whole app.
declare module 'offload/fastify' {
  interface Register {
    tasks: typeof Tasks;
  }
}

export interface DemoOptions {
  databasePath?: string;
  poolSize?: number;
  /** Run the tasks on remote workers through this Redis (default: $OFFLOAD_REDIS_URL; unset: threads). */
  redisUrl?: string;
  /**
   * ms a streaming client may go without reading before its stream ends and frees its worker
   * (default: $OFFLOAD_DEMO_STALL_TIMEOUT, else 10 s).
   */
  stallTimeout?: number;
  /** Calls that may wait for a worker before requests are shed with a 503 (default 1000). */
  maxQueue?: number;
}

/** At shutdown, how long running tasks may finish before they are cancelled. */
export const CLOSE_TIMEOUT_MS = 10_000;

export async function buildDemo(options: DemoOptions = {}): Promise<{ app: FastifyInstance; pool: Pool<typeof Tasks> }> {
  const databasePath = options.databasePath ?? process.env.OFFLOAD_DEMO_DB ?? fileURLToPath(new URL('../.data/demo.db', import.meta.url));
  ensureDatabase(databasePath);
  process.env.OFFLOAD_DEMO_DB = databasePath;
  const redisUrl = options.redisUrl ?? process.env.OFFLOAD_REDIS_URL;
  const pool = createPool<typeof Tasks>(new URL('./tasks.ts', import.meta.url), {
    name: 'demo',
    maxQueue: options.maxQueue ?? 1000,
    // A client that stops reading /report.csv must not hold a worker (nor the shutdown) for ever.
    stallTimeout: options.stallTimeout ?? Number(process.env.OFFLOAD_DEMO_STALL_TIMEOUT ?? 10_000),
    // Opt-in remote mode: `offload worker demo/tasks.ts --queue offload-demo` processes run the tasks.
    // Locally, workers yield the CPU to the main thread, which answers /health (Linux). Remote
    // workers take it as `offload worker --nice-increment 10`.
    ...(redisUrl === undefined
      ? { size: options.poolSize ?? 4, niceIncrement: 10 }
      : { executor: 'remote', connection: redisUrl, queue: 'offload-demo', maxInFlight: options.poolSize ?? 64 }),
  });

  // Start the workers before traffic arrives, so the first burst measures work, not start-up.
  await pool.warmup();

  const app = Fastify({ logger: false });
  // Decorates app and requests with the pool, maps its errors to HTTP, closes it on app.close().
  await app.register(offload, { pool, closeTimeout: CLOSE_TIMEOUT_MS });

  const registry = new Registry();
  const metrics = registerPoolMetrics(pool, { registry });
  const loop = watchEventLoop();
  app.addHook('onClose', async () => {
    metrics.unregister();
    loop.stop();
  });

  traceRequests(app);
  registerRoutes(app, { registry, loop });
  registerDashboard(app);
  return { app, pool };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { app } = await buildDemo();
  const port = Number(process.env.PORT ?? 8888);
  const host = process.env.HOST ?? '127.0.0.1';
  const address = await app.listen({ port, host });
  console.log(`offload demo on ${address}/  (dashboard: ${address}/dashboard; try /report, /hash, /image, each with ?inline=1, and /health)`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    // Stop accepting first, then drain the pool: the offload plugin's onClose hook runs
    // `pool.close({ timeout: CLOSE_TIMEOUT_MS })`. Stalled streaming clients are cut off by the
    // pool's stallTimeout, so the server's own close cannot wait on them for ever.
    process.once(signal, () => {
      const closed = app.close();
      // Fastify closes the connections idle at this moment; a keep-alive connection whose request
      // is answered during the close would stay open for its keepAliveTimeout (72 s) and hold the
      // exit, so each is closed as soon as it falls idle.
      setInterval(() => app.server.closeIdleConnections(), 100).unref();
      void closed.then(() => process.exit(0));
    });
  }
}
