#!/usr/bin/env node
/**
 * `offload worker <task-module> --redis <url> --queue <name> [--size N]`: serves a remote pool's
 * queue with a local thread pool. SIGTERM or SIGINT: stop taking jobs, finish the active ones,
 * run teardown, exit 0.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const USAGE = `Usage: offload worker <task-module> --redis <url> --queue <name> [options]

  --redis <url>                 redis:// or rediss:// URL (default: $OFFLOAD_REDIS_URL)
  --queue <name>                the queue of the pools to serve
  --size <n>                    tasks at once, one per thread (default: CPU count)
  --prefix <prefix>             Redis key prefix, as the pools' (default: offload)
  --max-payload-bytes <n>       largest arguments / result, as the pools' (default: 8388608)
  --lock-duration <ms>          job lock, renewed every half of it (default: 30000)
  --stalled-interval <ms>       how often to look for jobs of dead workers (default: 30000)
  --max-stalled-count <n>       stalls before a job fails instead of running again (default: 1)
  --cancel-grace-period <ms>    before a thread whose task ignores cancellation is ended (default: 500)
  --max-tasks-per-worker <n>    replace a thread after this many tasks (default: unlimited)
  --concurrent-tasks-per-worker <n>  async jobs each thread runs at once (default: 1)
  --max-worker-memory-mb <n>    replace a thread past this much memory after a task (default: unlimited)
  --nice-increment <n>          lower the threads' priority by this much, 0-19 (Linux; default: 0)`;

const NUMBERS = ['size', 'max-payload-bytes', 'lock-duration', 'stalled-interval', 'max-stalled-count', 'cancel-grace-period', 'max-tasks-per-worker', 'max-worker-memory-mb', 'nice-increment', 'concurrent-tasks-per-worker'] as const;

function fail(message: string): never {
  console.error(`offload: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function number(values: Record<string, string | boolean | undefined>, name: (typeof NUMBERS)[number]): number | undefined {
  const text = values[name];
  if (typeof text !== 'string') return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) fail(`--${name} must be a whole number (got ${text})`);
  return value;
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        redis: { type: 'string' },
        queue: { type: 'string' },
        prefix: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        ...Object.fromEntries(NUMBERS.map((name) => [name, { type: 'string' as const }])),
      },
    });
  } catch (error) {
    fail((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const [command, taskModule, ...extra] = positionals;
  if (command !== 'worker') fail(command === undefined ? 'which command? (worker)' : `unknown command ${command}`);
  if (taskModule === undefined || extra.length > 0) fail('give exactly one task module');
  const redis = values.redis ?? process.env.OFFLOAD_REDIS_URL;
  if (redis === undefined) fail('--redis (or OFFLOAD_REDIS_URL) is required');
  if (values.queue === undefined) fail('--queue is required');

  // Loaded only now: --help and argument errors must work where the optional bullmq and ioredis are not installed.
  const { startRemoteWorker } = await import('./remote/worker.js').catch((error: unknown) => {
    const missing = (error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' && /'(bullmq|ioredis)'/.exec(String(error));
    if (!missing) throw error;
    console.error(`offload: the worker needs ${missing[1]}, an optional dependency: npm install bullmq ioredis`);
    return process.exit(1);
  });
  const worker = await startRemoteWorker({
    taskModule: pathToFileURL(resolve(taskModule)),
    connection: redis,
    queue: values.queue,
    prefix: values.prefix,
    size: number(values, 'size'),
    maxPayloadBytes: number(values, 'max-payload-bytes'),
    lockDuration: number(values, 'lock-duration'),
    stalledInterval: number(values, 'stalled-interval'),
    maxStalledCount: number(values, 'max-stalled-count'),
    cancelGracePeriod: number(values, 'cancel-grace-period'),
    maxTasksPerWorker: number(values, 'max-tasks-per-worker'),
    concurrentTasksPerWorker: number(values, 'concurrent-tasks-per-worker'),
    maxWorkerMemoryMb: number(values, 'max-worker-memory-mb'),
    niceIncrement: number(values, 'nice-increment'),
  });
  console.log(`offload worker ready: queue ${worker.queue}, ${worker.stats().size} threads, module ${taskModule}`);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      void worker.close().then(() => process.exit(0));
    });
  }
}

main().catch((error: unknown) => {
  console.error('offload worker could not start:', error);
  process.exit(1);
});
