// The remote executor's own behaviour and faults, with real Redis servers and real worker
// processes. The shared suites run against `remote` too (see helpers.ts).
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { serialize } from 'node:v8';
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import {
  ConnectionError,
  createPool,
  NotCloneableError,
  OffloadError,
  PayloadTooLargeError,
  TaskModuleError,
  UnknownTaskError,
  WorkerExitedError,
  type PoolOptions,
} from '../src/index.js';
import { startRemoteWorker } from '../src/remote/index.js';
import { decodeEntry, PROTOCOL_VERSION, Reply, REPLY_TTL_MS, replyList, type ReplyEntry } from '../src/remote/codec.js';
import { replyRenewal } from '../src/remote/link.js';
import { decodeError } from '../src/protocol/error-codec.js';
import type * as Tasks from './fixtures/remote-tasks.js';
import { collect, fixture, rejection } from './helpers.js';
import { freePortSync, sharedRedis, startRedisServer, startWorkerProcess, type WorkerProcess, type WorkerProcessOptions, until, watchCommands } from './remote-harness.js';
import { redisServer, whenAvailable } from './requirements.js';

const run = promisify(execFile);
const TASKS = fixture('remote-tasks.ts');
let queues = 0;

/** A fresh queue on the shared Redis, its pools' options, and a way to start its workers. */
function setup(redisUrl = sharedRedis().url) {
  const queue = `remote-${process.pid}-${++queues}`;
  return {
    queue,
    pool: (options: PoolOptions = {}) => createPool<typeof Tasks>(TASKS, { executor: 'remote', connection: redisUrl, queue, ...options }),
    worker: (options: WorkerProcessOptions = {}) => startWorkerProcess(TASKS, redisUrl, queue, options),
  };
}

/** A Redis of its own (to freeze or kill), two workers, and two pools: one to close, one to destroy. */
function poolsToShutDown() {
  const redis = startRedisServer();
  const { pool, worker } = setup(redis.url);
  return { redis, workers: worker({ size: 2 }), closing: pool({ maxInFlight: 2 }), destroying: pool({ maxInFlight: 2 }) };
}

whenAvailable(redisServer, 'remote executor: options, behaviour and faults', () => {
  describe('remote executor: options', () => {
    test('a remote pool needs a connection and a queue, and refuses what only local workers can do', () => {
      assert.throws(() => createPool(TASKS, { executor: 'remote', queue: 'q' }), /options\.connection/);
      assert.throws(() => createPool(TASKS, { executor: 'remote', connection: 'redis://127.0.0.1:1' }), /options\.queue/);
      assert.throws(() => createPool(TASKS, { executor: 'remote', connection: 'http://x', queue: 'q' }), /redis:\/\//);
      assert.throws(() => createPool(TASKS, { executor: 'remote', connection: 'redis://x', queue: 'a:b' }), /cannot contain ':'/);
      assert.throws(() => createPool(TASKS, { executor: 'remote', connection: 'redis://x', queue: 'q', maxPayloadBytes: 10 }), /maxPayloadBytes/);
      assert.throws(() => createPool(TASKS, { executor: 'remote', connection: 'redis://x', queue: 'q', maxTasksPerWorker: 5 }), /remote workers/);
      assert.throws(() => createPool(TASKS, { executor: 'remote', connection: { keyPrefix: 'x:' }, queue: 'q' }), /keyPrefix/);
      assert.throws(() => createPool(TASKS, { executor: 'remote', connection: { host: 5 as never }, queue: 'q' }), /options\.connection\.host must be a host name/);
      assert.throws(() => createPool(TASKS, { executor: 'remote', connection: { port: 70000 }, queue: 'q' }), /options\.connection\.port must be a TCP port/);
      assert.throws(() => createPool(TASKS, { executor: 'remote', connection: { db: -1 }, queue: 'q' }), /options\.connection\.db must be an integer/);
      // A string that is not a URL is not echoed: it may hold the password.
      assert.throws(
        () => createPool(TASKS, { executor: 'remote', connection: 'redis//:s3cret@host', queue: 'q' }),
        (error: Error) => error instanceof TypeError && !error.message.includes('s3cret'),
      );
      assert.throws(() => createPool(TASKS, { executor: 'thread', queue: 'q' }), /options\.queue applies to the remote executor only/);
      for (const sizing of [{ size: 4 }, { maxSize: 4 }, { minSize: 1 }]) {
        assert.throws(() => createPool(TASKS, { executor: 'remote', connection: 'redis://x', queue: 'q', ...sizing }), /maxInFlight caps the jobs/);
      }
      assert.throws(() => createPool(TASKS, { executor: 'remote', connection: 'redis://x', queue: 'q', maxInFlight: 0 }), /maxInFlight must be an integer/);
      assert.throws(() => createPool(TASKS, { executor: 'thread', maxInFlight: 4 }), /maxInFlight applies to the remote executor only/);
      assert.equal(createPool(TASKS, { executor: 'remote', connection: 'redis://x', queue: 'q' }).options.maxSize, 256, 'maxInFlight defaults to 256');
    });
  });

  describe('remote executor: behaviour', () => {
    test('ERR_OFFLOAD_TOO_LARGE: an argument or a result over maxPayloadBytes fails that call only, naming which', async () => {
      const { pool, worker } = setup();
      const workers = worker({ size: 1, maxPayloadBytes: 64 * 1024 });
      const calls = pool({ maxInFlight: 1, maxPayloadBytes: 64 * 1024 });
      try {
        await workers.ready;
        const error = await rejection(calls.tasks.length(new Uint8Array(100_000)));
        assert.ok(error instanceof PayloadTooLargeError);
        assert.equal(error.code, 'ERR_OFFLOAD_TOO_LARGE');
        assert.equal(error.path, 'args');
        assert.ok(error.size > 100_000 && error.limit === 64 * 1024, error.message);
        const result = await rejection(calls.tasks.bytes(100_000));
        assert.ok(result instanceof PayloadTooLargeError);
        assert.equal(result.path, 'result');
        // Streamed items: many small ones are split over several entries; one too large fails the stream after those before it.
        const chunks: number[] = [];
        assert.equal((await collect(calls.stream('chunksOf', [20, 16 * 1024]))).length, 20);
        const item = await rejection((async () => {
          for await (const chunk of calls.stream('chunksOf', [2, 100_000], { highWaterMark: 1 })) chunks.push(chunk.byteLength);
        })());
        assert.ok(item instanceof PayloadTooLargeError);
        assert.equal(item.path, 'item');
        assert.deepEqual(chunks, []);
        assert.equal(await calls.tasks.length(new Uint8Array(1000)), 1000);
      } finally {
        await calls.close();
        await workers.stop();
      }
    });

    test('a result or a streamed item that cannot cross (a function anywhere, a Blob in Redis) fails naming its path, after the items yielded before it', async () => {
      const { pool, worker } = setup();
      const workers = worker({ size: 1 });
      const calls = pool();
      try {
        await workers.ready;
        for (const [result, items, part] of [['functionResult', 'functionAfter', 'handler'], ['blobResult', 'blobAfter', 'blob']] as const) {
          const refused = await rejection(calls.run(result, []));
          assert.ok(refused instanceof NotCloneableError, String(refused));
          assert.equal(refused.path, `result.${part}`);
          const seen: unknown[] = [];
          const item = await rejection((async () => {
            for await (const value of calls.stream(items, [3])) seen.push(value);
          })());
          assert.ok(item instanceof NotCloneableError, String(item));
          assert.equal(item.path, `item[3].${part}`);
          assert.deepEqual(seen, [0, 1, 2]);
        }
        assert.equal((await calls.tasks.tagged('after')).value, 'after');
      } finally {
        await calls.close();
        await workers.stop();
      }
    });

    test('a job naming a task the module does not export, or carrying anything but offload data, fails cleanly; the worker serves on', async () => {
      const { queue, worker } = setup();
      const workers = worker({ size: 1 });
      const raw = new Queue(queue, { connection: { url: sharedRedis().url }, prefix: 'offload' });
      const producer = randomUUID();
      const replies = new Redis(sharedRedis().url);
      let n = 0;
      try {
        await workers.ready;
        // Plays a producer: adds a job, then reads its reply from the producer's reply list.
        const reply = async (name: string, data: unknown): Promise<unknown> => {
          const jobId = `${producer}-${++n}`;
          await raw.add(name, data, { jobId, removeOnComplete: true });
          const [, bytes] = (await replies.blpopBuffer(replyList('offload', queue, producer), 10))!;
          const decoded = decodeEntry(bytes);
          assert.ok(decoded !== undefined && 'entry' in decoded && decoded.jobId === jobId);
          assert.equal(decoded.entry[0], Reply.Failed);
          return decodeError(decoded.entry[2] as never);
        };
        const args = serialize([]).toString('base64');
        for (const name of ['doesNotExist', 'teardown', '../../../etc/passwd', 'constructor', '__proto__']) {
          const error = await reply(name, { v: PROTOCOL_VERSION, args });
          assert.ok(error instanceof UnknownTaskError, `${name}: ${String(error)}`);
        }
        assert.ok((await reply('countRuns', { v: 99, args })) instanceof TypeError);
        assert.ok((await reply('countRuns', 'just a string')) instanceof TypeError);
        const pool = createPool<typeof Tasks>(TASKS, { executor: 'remote', connection: sharedRedis().url, queue, maxInFlight: 1 });
        assert.equal(await pool.tasks.countRuns(), 1, 'none of those jobs ran a task');
        await pool.close();
      } finally {
        replies.disconnect();
        await raw.close();
        await workers.stop();
      }
    });

    test('a running task that ignores cancellation: the caller is answered at once, the remote thread is replaced after the grace period', async () => {
      const { pool, worker } = setup();
      const workers = worker({ size: 1, cancelGracePeriod: 100 });
      const calls = pool({ maxInFlight: 1 });
      try {
        await workers.ready;
        assert.equal(await calls.tasks.countRuns(), 1);
        const started = Date.now();
        const error = await rejection(calls.tasks.stubbornSpin.with({ timeout: 200 })(30_000));
        assert.equal((error as OffloadError).code, 'ERR_OFFLOAD_TIMEOUT');
        assert.ok(Date.now() - started < 5000);
        // A fresh thread counts again from 1: the stubborn one was ended.
        assert.equal(await calls.tasks.countRuns(), 1);
      } finally {
        await calls.close();
        await workers.stop();
      }
    });

    test('progress reaches the caller in order', async () => {
      const { pool, worker } = setup();
      const workers = worker({ size: 1 });
      const calls = pool({ maxInFlight: 1 });
      try {
        await workers.ready;
        const seen: number[] = [];
        assert.equal(await calls.run('stepsWithProgress', [5], { onProgress: (value) => seen.push(value as number) }), 5);
        assert.equal(seen.at(-1), 5);
        assert.deepEqual(seen, [...seen].sort((a, b) => a - b));
      } finally {
        await calls.close();
        await workers.stop();
      }
    });

    test('a stream keeps at most highWaterMark items in Redis while its consumer is slow, and leaves nothing behind', async () => {
      const { queue, pool, worker } = setup();
      const workers = worker({ size: 1 });
      const calls = pool({ maxInFlight: 1 });
      const redis = new Redis(sharedRedis().url);
      const replies = `offload:${queue}:offload:replies:*`;
      /** Items held in Redis for this queue's producers, counted in the entries of their reply lists. */
      const itemsInRedis = async (): Promise<number> => {
        let items = 0;
        for (const key of await redis.keys(replies)) {
          for (const bytes of await redis.lrangeBuffer(key, 0, -1)) {
            const decoded = decodeEntry(bytes);
            if (decoded !== undefined && 'entry' in decoded && decoded.entry[0] === Reply.Items) items += decoded.entry[1].length;
          }
        }
        return items;
      };
      try {
        await workers.ready;
        const size = 64 * 1024;
        let received = 0;
        let mostInRedis = 0;
        for await (const chunk of calls.stream('chunksOf', [40, size], { highWaterMark: 4 })) {
          assert.equal(chunk.byteLength, size);
          assert.equal(chunk[size - 1], received % 256, 'in order, intact');
          received++;
          if (received % 8 === 0) {
            // A slow consumer: the worker fills its credit meanwhile, and no more.
            await new Promise((resolve) => setTimeout(resolve, 50));
            mostInRedis = Math.max(mostInRedis, await itemsInRedis());
          }
        }
        assert.equal(received, 40);
        assert.ok(mostInRedis <= 4, `at most highWaterMark items in Redis (${mostInRedis})`);
        await calls.close();
        assert.deepEqual(await redis.keys(replies), [], 'the reply list is gone once read');
      } finally {
        redis.disconnect();
        await calls.close();
        await workers.stop();
      }
    });

    test('a worker process SIGKILLed mid-stream fails the loop with ERR_OFFLOAD_WORKER_EXITED after the items it sent; the stream is not run again', async () => {
      const { pool, worker } = setup();
      const fast = { size: 1, lockDuration: 1000, stalledInterval: 500 };
      const first = worker(fast);
      const calls = pool({ maxInFlight: 1 });
      const go = join(mkdtempSync(join(tmpdir(), 'offload-stream-kill-')), 'go');
      let second: WorkerProcess | undefined;
      try {
        await first.ready;
        const items: number[] = [];
        const consumed = (async () => {
          for await (const item of calls.stream('countThenWait', [3, go])) items.push(item);
        })();
        await until(() => items.length === 3).finally(() => items.length < 3 && writeFileSync(go, ''));
        second = worker(fast); // started now, so the stream is surely on the first
        await second.ready;
        first.child.kill('SIGKILL');
        // BullMQ hands the stalled job to the second worker, which must not stream it again.
        const error = await rejection(consumed);
        writeFileSync(go, '');
        assert.ok(error instanceof WorkerExitedError);
        assert.equal(error.code, 'ERR_OFFLOAD_WORKER_EXITED');
        assert.match(error.message, /not run again/);
        assert.deepEqual(items, [0, 1, 2], 'no item repeated');
        assert.deepEqual(await collect(calls.stream('countTo', [3])), [0, 1, 2], 'the pool streams on');
      } finally {
        await calls.close();
        await second?.stop();
      }
    });

    test('a stream whose caller falls silent (it died, or its cancellation was lost) is ended by its worker: the thread is freed', async () => {
      const { queue, pool, worker } = setup();
      const workers = worker({ size: 1, streamSilenceMs: 500 });
      const url = sharedRedis().url;
      const jobs = new Queue(queue, { connection: { url }, prefix: 'offload' });
      const redis = new Redis(url);
      const producer = randomUUID();
      const calls = pool({ maxInFlight: 1 });
      try {
        await workers.ready;
        // A stream's job as a producer adds it, whose producer then grants nothing more and never
        // repeats its total: a producer that died once the stream began.
        const data = { v: PROTOCOL_VERSION, args: serialize([1_000_000]).toString('base64'), s: 4 };
        await jobs.add('countTo', data, { jobId: `${producer}-1`, removeOnComplete: true, removeOnFail: true });
        let verdict: ReplyEntry | undefined;
        while (verdict === undefined) {
          const popped = await redis.blpopBuffer(replyList('offload', queue, producer), 20);
          assert.ok(popped !== null, 'the worker gave up on the stream');
          const decoded = decodeEntry(popped[1]);
          assert.ok(decoded !== undefined && 'entry' in decoded);
          if (decoded.entry[0] !== Reply.Items) verdict = decoded.entry;
        }
        assert.equal(verdict[0], Reply.Failed);
        assert.equal((decodeError(verdict[2] as never) as { code?: string }).code, 'ERR_OFFLOAD_CONNECTION');
        assert.equal(await calls.run('add', [1, 2], { timeout: 20_000 }), 3, "the worker's only thread is free again");
      } finally {
        redis.disconnect();
        await jobs.close();
        await calls.close();
        await workers.stop();
      }
    });

    test('a worker frozen past the silence limit takes up a live stream again: its caller never fell silent', async () => {
      const { pool, worker } = setup();
      const workers = worker({ size: 1, streamSilenceMs: 500 });
      const calls = pool({ maxInFlight: 1 });
      try {
        await workers.ready;
        const items: number[] = [];
        for await (const item of calls.stream('countTo', [60], { highWaterMark: 2, timeout: 60_000 })) {
          items.push(item);
          if (item === 5) {
            // The consumer waits while the worker is frozen: the producer's repeats pile up in its socket.
            workers.child.kill('SIGSTOP');
            await new Promise((resolve) => setTimeout(resolve, 1500));
            workers.child.kill('SIGCONT');
          }
        }
        assert.deepEqual(items, Array.from({ length: 60 }, (_, i) => i));
      } finally {
        workers.child.kill('SIGCONT');
        await calls.close();
        await workers.stop();
      }
    });

    test("credit lost to a worker's reconnections is made good: a stream finishes while its worker's subscription keeps being cut", async () => {
      const { pool, worker } = setup();
      const workers = worker({ size: 1 });
      const calls = pool({ maxInFlight: 1 });
      const admin = new Redis(sharedRedis().url);
      let cutting: NodeJS.Timeout | undefined;
      try {
        await workers.ready;
        await collect(calls.stream('countTo', [3])); // the worker has begun serving
        // Only the worker subscribes (to credit and cancellations): a grant published while it
        // reconnects is lost, and with a credit of 2 the stream has no item left to earn the next.
        cutting = setInterval(() => void admin.client('KILL', 'TYPE', 'pubsub').catch(() => {}), 400);
        const items = await collect(calls.stream('countTo', [2000], { highWaterMark: 2, timeout: 60_000 }));
        assert.equal(items.length, 2000);
      } finally {
        clearInterval(cutting);
        admin.disconnect();
        await calls.close();
        await workers.stop();
      }
    });

    test('maxQueue counts the jobs other producers have waiting in the queue', async () => {
      const { pool, worker } = setup();
      const workers = worker({ size: 1 });
      const busy = pool({ maxInFlight: 8 });
      const shedding = pool({ maxInFlight: 1, maxQueue: 2 });
      try {
        await workers.ready;
        const backlog = Array.from({ length: 8 }, () => busy.tasks.sleepThenPid(150));
        await until(() => shedding.warmup().then(() => true)); // connected, and counting
        await new Promise((resolve) => setTimeout(resolve, 500)); // a refresh of the count
        const error = await rejection(shedding.tasks.countRuns());
        assert.equal((error as OffloadError).code, 'ERR_OFFLOAD_QUEUE_FULL');
        await Promise.all(backlog);
        await new Promise((resolve) => setTimeout(resolve, 500));
        assert.equal(typeof (await shedding.tasks.countRuns()), 'number', 'admitted again once the backlog drained');
      } finally {
        await Promise.all([busy.close(), shedding.close()]);
        await workers.stop();
      }
    });

    test('ERR_OFFLOAD_CONNECTION at once when Redis is unreachable', async () => {
      const calls = createPool<typeof Tasks>(TASKS, { executor: 'remote', connection: `redis://127.0.0.1:${freePortSync()}`, queue: 'nowhere', maxInFlight: 2 });
      try {
        const error = await rejection(calls.tasks.countRuns());
        assert.ok(error instanceof ConnectionError);
        assert.equal(error.code, 'ERR_OFFLOAD_CONNECTION');
        assert.equal(((await rejection(calls.tasks.countRuns())) as OffloadError).code, 'ERR_OFFLOAD_CONNECTION');
      } finally {
        await calls.close();
      }
    });

    test('a worker whose task module fails to load refuses to start and takes no job', async () => {
      await assert.rejects(
        startRemoteWorker({ taskModule: fixture('load-fails.ts'), connection: sharedRedis().url, queue: 'never-served', size: 1 }),
        (error: unknown) => error instanceof TaskModuleError && (error.cause as Error).message === 'cannot open the database',
      );
    });
  });

  describe('remote executor: the offload worker CLI', () => {
    const scratch = mkdtempSync(join(tmpdir(), 'offload-remote-'));
    after(() => rmSync(scratch, { recursive: true, force: true }));
    const cli = new URL('../dist/cli.js', import.meta.url).pathname;

    test('serves a queue from dist; on SIGTERM it finishes the active job, runs teardown, and exits 0', async () => {
      const { queue, pool } = setup();
      const marker = join(scratch, 'teardown.log');
      const child = spawn(process.execPath, [cli, 'worker', TASKS.pathname, '--queue', queue, '--size', '2'], {
        env: { ...process.env, OFFLOAD_REDIS_URL: sharedRedis().url, OFFLOAD_TEST_MARKER: marker },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const calls = pool({ maxInFlight: 2 });
      try {
        const [line] = (await once(child.stdout!, 'data')) as [Buffer];
        assert.match(line.toString(), /offload worker ready: queue remote-\d+-\d+, 2 threads/);
        const active = calls.tasks.sleepThenPid(500);
        await until(async () => calls.stats().busy === 1);
        await new Promise((resolve) => setTimeout(resolve, 150)); // taken by the worker
        child.kill('SIGTERM');
        assert.equal(await active, child.pid, 'the active job finished before the worker left');
        const [code] = await once(child, 'exit');
        assert.equal(code, 0);
        assert.equal(readFileSync(marker, 'utf8').trim().split('\n').length, 2, 'teardown ran in both threads');
      } finally {
        child.kill('SIGKILL');
        await calls.destroy();
      }
    });

    test('a closed pool leaves nothing that keeps its process alive: no timer of its Redis client', async () => {
      const { queue, worker } = setup();
      const serving = worker();
      try {
        await serving.ready;
        // In a process of its own: the test runner's own timers would hide the pool's.
        const script = `
          import { createPool } from ${JSON.stringify(new URL('../src/index.js', import.meta.url).href)};
          const pool = createPool(${JSON.stringify(TASKS.href)}, { executor: 'remote', connection: ${JSON.stringify(sharedRedis().url)}, queue: ${JSON.stringify(queue)} });
          await pool.run('tagged', [1]);
          await pool.close();
          console.log(JSON.stringify(process.getActiveResourcesInfo()));
        `;
        const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: new URL('..', import.meta.url), timeout: 30_000 });
        const resources = JSON.parse(stdout.trim().split('\n').pop()!) as string[];
        assert.deepEqual(resources.filter((resource) => resource === 'Timeout'), [], `left active: ${resources.join(', ')}`);
      } finally {
        await serving.stop();
      }
    });

    test('a pool destroyed while Redis has not answered yet leaves nothing that keeps its process alive', async () => {
      // Accepts connections and never answers, nor closes when told the client is done (a frozen
      // Redis): the pool's connections stay short of ready.
      const accepted = new Set<Socket>();
      const silent = createServer({ allowHalfOpen: true }, (socket) => void accepted.add(socket));
      silent.listen(0, '127.0.0.1');
      await once(silent, 'listening');
      const { port } = silent.address() as AddressInfo;
      try {
        const script = `
          import { createPool } from ${JSON.stringify(new URL('../src/index.js', import.meta.url).href)};
          const pool = createPool(${JSON.stringify(TASKS.href)}, { executor: 'remote', connection: 'redis://127.0.0.1:${port}', queue: 'never-answered' });
          const call = pool.run('tagged', [1]).catch((error) => error.code);
          await new Promise((resolve) => setTimeout(resolve, 200));
          await pool.destroy();
          const code = await call;
          // Past a timer armed now for 10 ms: one armed for the next turn as the pool closed has fired.
          await new Promise((resolve) => setTimeout(resolve, 10));
          console.log(JSON.stringify({ call: code, left: process.getActiveResourcesInfo() }));
        `;
        const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: new URL('..', import.meta.url), timeout: 30_000 });
        const { call, left } = JSON.parse(stdout.trim().split('\n').pop()!) as { call: string; left: string[] };
        assert.match(call, /^ERR_OFFLOAD_/);
        assert.deepEqual(left.filter((resource) => resource === 'Timeout'), [], `left active: ${left.join(', ')}`);
      } finally {
        for (const socket of accepted) socket.destroy();
        silent.close();
      }
    });

    test("the package exports 'offload/remote' from dist, for plain Node", async () => {
      const script = "import { startRemoteWorker } from 'offload/remote'; console.log(typeof startRemoteWorker);";
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: new URL('..', import.meta.url), timeout: 30_000 });
      assert.equal(stdout.trim(), 'function');
    });

    test('refuses to start without --queue or with a module that fails to load, saying why', async () => {
      const missing = await rejection(run(process.execPath, [cli, 'worker', TASKS.pathname, '--redis', sharedRedis().url]));
      assert.equal((missing as { code: number }).code, 2);
      assert.match((missing as { stderr: string }).stderr, /--queue is required/);
      const broken = await rejection(
        run(process.execPath, [cli, 'worker', fixture('load-fails.ts').pathname, '--redis', sharedRedis().url, '--queue', 'q']),
      );
      assert.equal((broken as { code: number }).code, 1);
      assert.match((broken as { stderr: string }).stderr, /cannot open the database/);
    });
  });

  describe('remote executor: the demo server', () => {
    const scratch = mkdtempSync(join(tmpdir(), 'offload-remote-demo-'));
    after(() => rmSync(scratch, { recursive: true, force: true }));

    test('with a Redis URL, GET / and /report answer through remote workers', async () => {
      const { buildDemo } = await import('../demo/server.js');
      const { app, pool } = await buildDemo({ databasePath: join(scratch, 'demo.db'), poolSize: 2, redisUrl: sharedRedis().url });
      assert.equal(pool.options.executor, 'remote');
      // The worker finds the database as the demo's tasks do: through OFFLOAD_DEMO_DB, set by buildDemo.
      const workers = startWorkerProcess(new URL('../demo/tasks.ts', import.meta.url), sharedRedis().url, 'offload-demo', { size: 2 });
      try {
        await workers.ready;
        await app.listen({ port: 0, host: '127.0.0.1' });
        const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
        assert.equal(await (await fetch(`${base}/`)).text(), 'Test 10<br/>');
        const report = (await (await fetch(`${base}/report?limit=3`)).json()) as { mode: string; rows: unknown[] };
        assert.equal(report.mode, 'offloaded');
        assert.equal(report.rows.length, 3);
      } finally {
        await app.close();
        await workers.stop();
      }
    });
  });

  describe('remote executor: faults', () => {
    test('a worker process SIGKILLed mid-job: the call still completes, on another worker', async () => {
      const { queue, pool, worker } = setup();
      const fast = { size: 1, lockDuration: 1000, stalledInterval: 500 };
      const first = worker(fast);
      let second: WorkerProcess | undefined;
      const calls = pool({ maxInFlight: 1 });
      const go = join(mkdtempSync(join(tmpdir(), 'offload-kill-')), 'go');
      const raw = new Queue(queue, { connection: { url: sharedRedis().url }, prefix: 'offload' });
      try {
        await first.ready;
        // Blocks until the file exists: the first worker holds it until it dies.
        const call = calls.tasks.pidOnceFileExists(go);
        await until(async () => (await raw.getActiveCount()) === 1);
        second = worker(fast); // started now, so the job is surely on the first
        await second.ready;
        first.child.kill('SIGKILL');
        writeFileSync(go, '');
        assert.equal(await call, second.child.pid);
      } finally {
        await raw.close();
        await calls.close();
        await second?.stop();
      }
    });

    test('a job whose workers keep dying fails with ERR_OFFLOAD_WORKER_EXITED past maxStalledCount, instead of running forever', async () => {
      const { queue, pool, worker } = setup();
      const strict = { size: 1, lockDuration: 1000, stalledInterval: 500, maxStalledCount: 0 };
      const first = worker(strict);
      const calls = pool({ maxInFlight: 1 });
      const raw = new Queue(queue, { connection: { url: sharedRedis().url }, prefix: 'offload' });
      let second: WorkerProcess | undefined;
      try {
        await first.ready;
        const go = join(mkdtempSync(join(tmpdir(), 'offload-stall-')), 'go');
        const call = calls.tasks.pidOnceFileExists(go);
        await until(async () => (await raw.getActiveCount()) === 1);
        second = worker(strict); // started now, so the job is surely on the first
        await second.ready;
        first.child.kill('SIGKILL');
        const error = await rejection(call);
        // The second worker may have begun the job as BullMQ failed it: let that task end.
        writeFileSync(go, '');
        assert.ok(error instanceof WorkerExitedError);
        assert.equal(error.code, 'ERR_OFFLOAD_WORKER_EXITED');
        assert.match(error.message, /stalled/);
        assert.equal(calls.stats().crashes, 0, 'news from Redis counts no crash of this pool');
        assert.equal(calls.stats().failures.ERR_OFFLOAD_WORKER_EXITED, 1);
        assert.equal(typeof (await calls.tasks.countRuns()), 'number', 'the pool goes on');
      } finally {
        await raw.close();
        await calls.close();
        await second?.stop();
      }
    });

    test('Redis frozen (connections open, no answer): deadlines and signals still answer, close({ timeout }) and destroy() still resolve', async () => {
      const { redis, workers, closing, destroying } = poolsToShutDown();
      try {
        await Promise.all([workers.ready, closing.warmup(), destroying.warmup()]);
        assert.equal((await closing.tasks.tagged(1)).value, 1);
        redis.freeze();
        const stuck = [rejection(closing.tasks.tagged(2)), rejection(destroying.tasks.tagged(3))];
        assert.equal(((await rejection(closing.tasks.tagged.with({ timeout: 200 })(4))) as OffloadError).code, 'ERR_OFFLOAD_TIMEOUT');
        const report = await closing.close({ timeout: 300 });
        assert.deepEqual(report, { timedOut: true, cancelled: { queued: 0, running: 1 } });
        await destroying.destroy();
        for (const call of stuck) assert.equal(((await call) as OffloadError).code, 'ERR_OFFLOAD_CLOSED');
      } finally {
        redis.thaw();
        await Promise.all([closing.close(), destroying.close()]);
        await workers.stop();
        await redis.stop();
      }
    });

    test('Redis gone (its process killed): close({ timeout }) and destroy() still resolve, and every call settles', async () => {
      const { redis, workers, closing, destroying } = poolsToShutDown();
      try {
        await Promise.all([workers.ready, closing.warmup(), destroying.warmup()]);
        assert.equal((await destroying.tasks.tagged(1)).value, 1);
        const running = [rejection(closing.tasks.sleepThenPid(5_000)), rejection(destroying.tasks.sleepThenPid(5_000))];
        await until(() => closing.stats().busy === 1 && destroying.stats().busy === 1);
        workers.child.kill('SIGKILL'); // gone with it: nothing will ever answer those calls
        await redis.stop();
        await new Promise((resolve) => setTimeout(resolve, 300)); // its connections notice, and wait to reconnect
        // Bounded only so that a hang fails here instead of holding the file until its timeout.
        const settled = (closed: Promise<unknown>): Promise<string> =>
          Promise.race([closed.then(() => 'settled'), new Promise<string>((resolve) => setTimeout(resolve, 15_000, 'still pending').unref())]);
        assert.equal(await settled(destroying.destroy()), 'settled');
        assert.equal(await settled(closing.close({ timeout: 300 })), 'settled');
        for (const call of running) assert.match(((await call) as OffloadError).code, /^ERR_OFFLOAD_(CLOSED|CONNECTION)$/);
      } finally {
        workers.child.kill('SIGKILL');
        await Promise.all([closing.destroy(), destroying.destroy()]);
      }
    });

    test('Redis stopped and restarted under load: every call completes or fails with ERR_OFFLOAD_CONNECTION, none hangs, the pool recovers', async () => {
      const redis = startRedisServer();
      const { pool, worker } = setup(redis.url);
      const workers = worker({ size: 4 });
      const calls = pool({ maxInFlight: 4 });
      const idle = pool({ maxInFlight: 2 });
      try {
        await Promise.all([workers.ready, idle.warmup()]);
        // Settled from the start: calls may fail while the test is still stopping Redis, and a
        // rejection nobody observes yet is reported as unhandled (what made this test flaky).
        const load = Promise.allSettled([
          ...Array.from({ length: 200 }, (_, i) => calls.tasks.tagged(i)),
          ...Array.from({ length: 40 }, () => calls.tasks.sleepThenPid(20)),
        ]);
        await new Promise((resolve) => setTimeout(resolve, 100));
        await redis.stop();
        const whileDown = Promise.allSettled(Array.from({ length: 20 }, (_, i) => calls.tasks.tagged(i)));
        // A pool with free slots sends at once, and is refused at once.
        const refused = await rejection(idle.tasks.tagged('down'));
        assert.equal((refused as OffloadError).code, 'ERR_OFFLOAD_CONNECTION', String(refused));
        await new Promise((resolve) => setTimeout(resolve, 500));
        redis.start();
        const outcomes = [...(await load), ...(await whileDown)];
        const codes = new Map<string, number>();
        for (const outcome of outcomes) {
          const key = outcome.status === 'fulfilled' ? 'value' : String((outcome.reason as OffloadError).code);
          codes.set(key, (codes.get(key) ?? 0) + 1);
        }
        for (const key of codes.keys()) assert.ok(key === 'value' || key === 'ERR_OFFLOAD_CONNECTION', JSON.stringify([...codes]));
        // No count is asserted: replies a worker wrote while Redis was away reach the pool once it
        // is back, so the calls queued behind them may all complete, and that is fine.
        // Recovered: the pool and the worker reconnect by themselves.
        await until(async () => (await Promise.allSettled([calls.tasks.tagged(0)]))[0]!.status === 'fulfilled', 30_000);
        const after = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => calls.tasks.tagged(i)));
        const values = after.map((r) => (r.status === 'fulfilled' ? r.value.value : (r.reason as Error).message));
        assert.deepEqual(values, Array.from({ length: 20 }, (_, i) => i));
      } finally {
        await Promise.all([calls.close(), idle.close()]);
        await workers.stop();
        await redis.stop();
      }
    });

    test('a reply list nobody reads expires: the worker that creates it sets its expiry', async () => {
      const { queue, worker } = setup();
      const workers = worker({ size: 1 });
      // A producer that adds a job and is gone before it reads the reply.
      const jobs = new Queue(queue, { connection: { url: sharedRedis().url }, prefix: 'offload' });
      const redis = new Redis(sharedRedis().url);
      try {
        await workers.ready;
        const producer = randomUUID();
        const list = replyList('offload', queue, producer);
        await jobs.add('tagged', { v: PROTOCOL_VERSION, args: serialize(['gone']).toString('base64') }, { jobId: `${producer}-1`, removeOnComplete: true });
        await until(async () => (await redis.llen(list)) === 1);
        // Set in the same command as the push that created the list: the list never exists
        // without it, not even between two commands.
        const ttl = await redis.pttl(list);
        assert.ok(ttl > 0 && ttl <= 60_000, `expires in ${ttl} ms`);
      } finally {
        redis.disconnect();
        await jobs.close();
        await workers.stop();
      }
    });

    test("a live pool keeps renewing its reply list's expiry, calls or no calls", async () => {
      const { queue, pool, worker } = setup();
      const workers = worker({ size: 1 });
      const saved = replyRenewal.intervalMs;
      replyRenewal.intervalMs = 50; // instead of every 15 s
      const calls = pool({ maxInFlight: 1 });
      const renewals: string[][] = [];
      const monitor = await watchCommands(sharedRedis().url, (args) => {
        if (args[0]?.toLowerCase() === 'pexpire' && args[1]?.startsWith(`offload:${queue}:offload:replies:`)) renewals.push(args);
      });
      try {
        await workers.ready;
        assert.equal(await calls.tasks.add(1, 2), 3); // the pool's link is open
        const before = renewals.length;
        await new Promise((resolve) => setTimeout(resolve, 600)); // idle: no worker writes a reply now
        const idle = renewals.slice(before);
        assert.ok(idle.length >= 3, `renewed ${idle.length} times in 600 ms, every 50 ms`);
        assert.ok(idle.every((args) => args[2] === String(REPLY_TTL_MS)), 'to the full expiry each time');
        assert.equal(new Set(idle.map((args) => args[1])).size, 1, "its own list only");
      } finally {
        replyRenewal.intervalMs = saved;
        monitor.close();
        await calls.close();
        await workers.stop();
      }
    });

    test('past one Redis: pools on two Redis servers, composed as the README shows, spread the calls over both', async () => {
      const second = startRedisServer();
      const shardsSetup = [setup(), setup(second.url)];
      const workers = shardsSetup.map((shard) => shard.worker({ size: 2 }));
      const shards = shardsSetup.map((shard) => shard.pool({ maxInFlight: 8 }));
      // The README's router: least loaded first (calls waiting in the pool, then jobs in flight).
      const load = (pool: (typeof shards)[number]) => {
        const { queued, busy } = pool.stats();
        return queued * 1e6 + busy;
      };
      const pick = () => shards.reduce((a, b) => (load(b) < load(a) ? b : a));
      try {
        await Promise.all(workers.map((w) => w.ready));
        const results = await Promise.all(Array.from({ length: 200 }, (_, i) => pick().tasks.tagged(i)));
        assert.deepEqual(results.map((result) => result.value), Array.from({ length: 200 }, (_, i) => i));
        assert.equal(new Set(results.map((result) => result.pid)).size, 2, 'both Redis servers served calls');
        const completed = shards.map((pool) => pool.stats().completed);
        assert.ok(completed.every((n) => n >= 50), `calls per Redis: ${completed.join(', ')}`);
      } finally {
        await Promise.all(shards.map((pool) => pool.close()));
        await Promise.all(workers.map((w) => w.stop()));
        await second.stop();
      }
    });

    test('two producers and three workers: every result reaches the caller that asked', async () => {
      const { pool, worker } = setup();
      const workers = [worker({ size: 2 }), worker({ size: 2 }), worker({ size: 2 })];
      const producers = [pool({ maxInFlight: 4 }), pool({ maxInFlight: 4 })];
      try {
        await Promise.all(workers.map((w) => w.ready));
        const results = await Promise.all(
          producers.map((producer, p) => Promise.all(Array.from({ length: 150 }, (_, i) => producer.tasks.tagged(`${p}:${i}`)))),
        );
        const pids = new Set<number>();
        results.forEach((list, p) =>
          list.forEach((result, i) => {
            assert.equal(result.value, `${p}:${i}`);
            pids.add(result.pid);
          }),
        );
        assert.ok(pids.size >= 2, `served by ${pids.size} worker(s)`);
      } finally {
        await Promise.all(producers.map((p) => p.close()));
        await Promise.all(workers.map((w) => w.stop()));
      }
    });
  });
});
