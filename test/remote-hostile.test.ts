// The remote executor against a hostile (or buggy) producer: anyone who can write to Redis.
// Each test plays that producer with BullMQ's Queue and raw Redis commands against real
// `offload worker` processes and other producers' pools, on a real redis-server.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { serialize } from 'node:v8';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { ConnectionError, createPool, UnknownTaskError, WorkerExitedError, type OffloadError } from '../src/index.js';
import { cancelChannel, creditChannel, decodeEntry, PROTOCOL_VERSION, Reply, replyList, type ReplyEntry } from '../src/remote/codec.js';
import { decodeError } from '../src/protocol/error-codec.js';
import type * as Tasks from './fixtures/remote-tasks.js';
import { fixture, rejection } from './helpers.js';
import { sharedRedis, startWorkerProcess, until, type WorkerProcessOptions } from './remote-harness.js';
import { redisServer, whenAvailable } from './requirements.js';

const TASKS = fixture('remote-tasks.ts');
let queues = 0;

function setup() {
  const url = sharedRedis().url;
  const queue = `hostile-${process.pid}-${++queues}`;
  return {
    queue,
    pool: () => createPool<typeof Tasks>(TASKS, { executor: 'remote', connection: url, queue, maxInFlight: 4 }),
    worker: (options: WorkerProcessOptions = {}) => startWorkerProcess(TASKS, url, queue, options),
    hostile: () => new Hostile(url, queue),
  };
}

/** A producer that writes whatever it likes: jobs with BullMQ, anything else with raw commands. */
class Hostile {
  readonly queue: Queue;
  readonly redis: Redis;
  readonly #name: string;
  readonly #producer = randomUUID();
  #n = 0;

  constructor(url: string, name: string) {
    this.#name = name;
    this.queue = new Queue(name, { connection: { url }, prefix: 'offload' });
    this.redis = new Redis(url);
  }

  /** Adds a job under this producer's id and returns the worker's reply to it. */
  async send(name: string, data: unknown): Promise<ReplyEntry> {
    const jobId = `${this.#producer}-${++this.#n}`;
    await this.queue.add(name, data, { jobId, removeOnComplete: true });
    const [, bytes] = (await this.redis.blpopBuffer(replyList('offload', this.#name, this.#producer), 20))!;
    const decoded = decodeEntry(bytes);
    assert.ok(decoded !== undefined && 'entry' in decoded && decoded.jobId === jobId, 'a reply to this job');
    return decoded.entry;
  }

  /** The error a job failed with; throws if it did not fail. */
  async failure(name: string, data: unknown): Promise<unknown> {
    const entry = await this.send(name, data);
    assert.equal(entry[0], Reply.Failed, `${name} was refused`);
    return decodeError(entry[2] as never);
  }

  async close(): Promise<void> {
    this.redis.disconnect();
    await this.queue.close();
  }
}

const args = (...values: unknown[]): { v: number; args: string } => ({ v: PROTOCOL_VERSION, args: serialize(values).toString('base64') });

whenAvailable(redisServer, 'remote executor: a hostile producer', () => {
  describe('remote executor: a hostile producer', () => {
    test('forged events and forged replies never hang a producer: an undecodable reply fails its call at once with ERR_OFFLOAD_CONNECTION, a killed reply reader comes back, close() ends', async () => {
      const { queue, pool, worker, hostile } = setup();
      const workers = worker({ size: 2 });
      const victim = pool();
      const attacker = hostile();
      const dir = mkdtempSync(join(tmpdir(), 'offload-hostile-'));
      try {
        await workers.ready;
        assert.equal((await victim.tasks.tagged('before')).value, 'before');
        // Observed from the start: they are meant to fail, perhaps before they are awaited.
        const first = rejection(victim.tasks.pidOnceFileExists(join(dir, 'first')));
        const second = rejection(victim.tasks.pidOnceFileExists(join(dir, 'second')));
        await until(async () => (await attacker.queue.getActiveCount()) === 2);
        const [a, b] = (await attacker.queue.getActive()).map((job) => job.id!) as [string, string];
        // The queue's event stream: what the previous reply path listened to.
        const events = `offload:${queue}:events`;
        await attacker.redis.xadd(events, '*', 'event', 'completed', 'jobId', a, 'returnvalue', '{not json');
        await attacker.redis.xadd(events, '*', 'event', 'progress', 'jobId', a, 'data', '{not json');
        await attacker.redis.xadd(events, '*', 'event', 'completed', 'jobId', b);
        // The victim's reply list, named by its job ids: garbage, then undecodable replies.
        const list = replyList('offload', queue, a.slice(0, 36));
        const forgedError = { kind: 'error', ctor: 'TypeError', name: 'TypeError', message: { toString: 1 }, stack: undefined, props: undefined };
        await attacker.redis.rpush(list, Buffer.from('no job id here'), Buffer.from([0, 1, 2]));
        await attacker.redis.rpush(list, Buffer.concat([Buffer.from(`${a}\0`), Buffer.from('not v8 at all')]));
        await attacker.redis.rpush(list, Buffer.concat([Buffer.from(`${b}\0`), serialize([Reply.Failed, 0, forgedError])]));
        for (const call of [first, second]) {
          const error = await call;
          assert.ok(error instanceof ConnectionError, String(error));
          assert.equal((error as OffloadError).code, 'ERR_OFFLOAD_CONNECTION');
        }
        // The reply reader's connection killed under it: it reconnects and reads on.
        const clients = await attacker.redis.client('LIST');
        const readers = String(clients).split('\n').filter((line) => line.includes('cmd=blmpop'));
        assert.ok(readers.length >= 1, 'the victim blocks on its reply list');
        for (const line of readers) await attacker.redis.client('KILL', 'ID', /id=(\d+)/.exec(line)![1]!);
        // The worker still runs the two jobs (the victim believes them ended): let them end.
        writeFileSync(join(dir, 'first'), '');
        writeFileSync(join(dir, 'second'), '');
        assert.equal((await victim.tasks.tagged('after')).value, 'after');
      } finally {
        writeFileSync(join(dir, 'first'), '');
        writeFileSync(join(dir, 'second'), '');
        await victim.close(); // would hang if a call never settled
        await attacker.close();
        await workers.stop();
      }
    });

    test('a forged Exited reply fails only its victim call: the pool counts no crash, ends no slot and never pauses its respawns', async () => {
      const { pool, worker, hostile } = setup();
      const workers = worker({ size: 2 });
      const victim = pool();
      const attacker = hostile();
      const exits: unknown[] = [];
      victim.on('workerExited', (exit) => exits.push(exit));
      const dir = mkdtempSync(join(tmpdir(), 'offload-hostile-'));
      try {
        await workers.ready;
        // Four jobs in Redis (two running, two waiting): enough forged exits in a row to have
        // started the pool's respawn back-off, were they counted as crashes.
        const calls = [1, 2, 3, 4].map((n) => rejection(victim.tasks.pidOnceFileExists(join(dir, String(n)))));
        await until(async () => (await attacker.queue.getJobs(['active', 'waiting'])).length === 4);
        const ids = (await attacker.queue.getJobs(['active', 'waiting'])).map((job) => job.id!);
        const list = replyList('offload', attacker.queue.name, ids[0]!.slice(0, 36));
        const exit = { exitCode: 1, signal: null, reason: 'forged', error: undefined };
        await attacker.redis.rpush(list, ...ids.map((id) => Buffer.concat([Buffer.from(`${id}\0`), serialize([Reply.Exited, 0, exit])])));
        for (const call of calls) {
          const error = await call;
          assert.ok(error instanceof WorkerExitedError, String(error));
          assert.match((error as Error).message, /forged/);
        }
        const stats = victim.stats();
        assert.equal(stats.crashes, 0);
        assert.equal(stats.failures.ERR_OFFLOAD_WORKER_EXITED, 4);
        assert.deepEqual(exits, [], 'no slot ended');
        for (const n of [1, 2, 3, 4]) writeFileSync(join(dir, String(n)), '');
        assert.equal((await victim.tasks.tagged('after')).value, 'after');
        assert.deepEqual(exits, []);
      } finally {
        for (const n of [1, 2, 3, 4]) writeFileSync(join(dir, String(n)), '');
        await victim.close();
        await attacker.close();
        await workers.stop();
      }
    });

    test('a job can only name a task: constructors, prototype methods and undecorated methods are refused, locally and remotely', async () => {
      const { worker, hostile, pool } = setup();
      const marker = join(mkdtempSync(join(tmpdir(), 'offload-hostile-')), 'teardown');
      process.env.OFFLOAD_TEST_MARKER = marker;
      const workers = worker({ size: 1 });
      delete process.env.OFFLOAD_TEST_MARKER;
      const attacker = hostile();
      const calls = pool();
      try {
        await workers.ready;
        const ping = await attacker.send('Svc#ping', args());
        assert.equal(ping[0], Reply.Ok, 'a decorated method is a task');
        assert.equal(ping[2], 'pong');
        for (const name of ['teardown#constructor', 'Svc#_internalDanger', 'add#toString', 'add#valueOf', 'add#hasOwnProperty', 'add#constructor', 'Svc#constructor']) {
          const error = await attacker.failure(name, args('x'));
          assert.ok(error instanceof UnknownTaskError, `${name}: ${String(error)}`);
        }
        assert.equal(await calls.tasks.countDangerRuns(), 0, 'Svc#_internalDanger never ran');
        await calls.close();
        await workers.stop();
        // teardown runs once, when the worker stops, and never as a job.
        assert.equal(readFileSync(marker, 'utf8').trim().split('\n').length, 1);
      } finally {
        await calls.close();
        await attacker.close();
        await workers.stop();
      }
    });

    test("a producer's reply list made a string by someone else: its call settles, and once the key is freed the producer is served again", async () => {
      const { queue, pool, worker, hostile } = setup();
      const workers = worker({ size: 1 });
      const victim = pool();
      const attacker = hostile();
      const dir = mkdtempSync(join(tmpdir(), 'offload-hostile-'));
      try {
        await workers.ready;
        const held = rejection(victim.tasks.pidOnceFileExists(join(dir, 'go')));
        await until(async () => (await attacker.queue.getActiveCount()) === 1);
        const [job] = await attacker.queue.getActive();
        const list = replyList('offload', queue, job!.id!.slice(0, 36));
        await attacker.redis.set(list, 'not a list');
        writeFileSync(join(dir, 'go'), '');
        // The worker cannot push the reply and says why; the producer, whose job is gone without
        // one, fails the call rather than wait for ever.
        const error = await held;
        assert.ok(error instanceof ConnectionError, String(error));
        assert.equal(error.code, 'ERR_OFFLOAD_CONNECTION');
        assert.ok(workers.errors.some((line) => /cannot reply to job .*WRONGTYPE/.test(line)), workers.errors.join('\n'));
        await attacker.redis.del(list);
        assert.equal((await victim.tasks.tagged('after')).value, 'after');
      } finally {
        writeFileSync(join(dir, 'go'), '');
        await victim.close();
        await attacker.close();
        await workers.stop();
      }
    });

    test('a SCRIPT FLUSH in Redis does not stop replies: the worker sends its reply script again (NOSCRIPT)', async () => {
      const { pool, worker, hostile } = setup();
      const workers = worker({ size: 1 });
      const calls = pool();
      const attacker = hostile();
      try {
        await workers.ready;
        assert.equal((await calls.tasks.tagged('before')).value, 'before');
        const refusals = async (): Promise<number> => Number(/errorstat_NOSCRIPT:count=(\d+)/.exec(await attacker.redis.info('errorstats'))?.[1] ?? 0);
        const before = await refusals();
        await attacker.redis.script('FLUSH');
        assert.equal((await calls.tasks.tagged('after')).value, 'after');
        assert.ok((await refusals()) > before, 'the worker pushed with the script Redis no longer had, then sent it whole');
        assert.deepEqual(workers.errors, []);
      } finally {
        await calls.close();
        await attacker.close();
        await workers.stop();
      }
    });

    test('the cancel channel keeps only job ids, a bounded number for a bounded time: a flood of huge messages leaves the worker serving', async () => {
      const { queue, worker, pool } = setup();
      // A heap far smaller than the flood: keeping the messages would end this worker.
      const workers = worker({ size: 1, maxOldSpaceSizeMb: 64, cancelGracePeriod: 100 });
      const calls = pool();
      const publisher = new Redis(sharedRedis().url);
      try {
        await workers.ready;
        const huge = 'x'.repeat(8 * 1024 * 1024);
        for (let i = 0; i < 24; i++) await publisher.publish(cancelChannel('offload', queue), huge);
        const ids = publisher.pipeline();
        for (let i = 0; i < 20_000; i++) ids.publish(cancelChannel('offload', queue), `${randomUUID()}-${i}`);
        await ids.exec();
        assert.equal(typeof (await calls.tasks.countRuns()), 'number', 'the worker still serves');
        // Real cancellations still reach the task that runs.
        const error = await rejection(calls.tasks.cooperativeSpin.with({ timeout: 300 })(20_000));
        assert.equal((error as OffloadError).code, 'ERR_OFFLOAD_TIMEOUT');
        assert.equal(typeof (await calls.tasks.countRuns()), 'number');
        assert.equal(workers.child.exitCode, null, workers.errors.join('\n'));
      } finally {
        publisher.disconnect();
        await calls.close();
        await workers.stop();
      }
    });

    test('streams: a forged stream credit is refused unrun; garbage and forged grants on the credit channel leave streams correct', async () => {
      const { queue, worker, hostile, pool } = setup();
      const workers = worker({ size: 1 });
      const attacker = hostile();
      const calls = pool();
      const publisher = new Redis(sharedRedis().url);
      try {
        await workers.ready;
        for (const credit of [0, -1, 1.5, 'x', 2_000_000]) {
          const refused = await attacker.failure('countTo', { ...args(3), s: credit });
          assert.ok(refused instanceof TypeError, String(credit));
          assert.match((refused as Error).message, /stream credit/);
        }
        const flood = publisher.pipeline();
        for (const message of ['', 'x', `${randomUUID()}-1 1`, `${randomUUID()}-1 999999999999999`, 'y'.repeat(100_000)]) {
          flood.publish(creditChannel('offload', queue), message);
        }
        await flood.exec();
        const items: number[] = [];
        for await (const item of calls.stream('countTo', [200], { highWaterMark: 4 })) items.push(item);
        assert.deepEqual(items, Array.from({ length: 200 }, (_, i) => i));
        assert.equal(await calls.tasks.countRuns(), 1, 'none of the forged jobs ran');
        assert.equal(workers.child.exitCode, null, workers.errors.join('\n'));
      } finally {
        publisher.disconnect();
        await calls.close();
        await attacker.close();
        await workers.stop();
      }
    });

    test("a pool never writes a job name a worker would refuse: a task name over 256 characters is refused at admission with a TypeError, and Redis holds no job", async () => {
      const { pool, hostile } = setup();
      const calls = pool();
      const observer = hostile();
      try {
        const name = `add${'x'.repeat(10_000_000)}`;
        const error = await rejection(calls.run(name as 'add', [1, 2]));
        assert.ok(error instanceof TypeError, String(error));
        assert.match(error.message, /longer than the 256 characters a remote job's name may have/);
        assert.ok(error.message.length < 300, 'the name is echoed bounded');
        const counts = await observer.queue.getJobCounts();
        assert.deepEqual(Object.values(counts).filter((count) => count > 0), [], JSON.stringify(counts));
        assert.equal(calls.stats().queued, 0);
      } finally {
        await calls.close();
        await observer.close();
      }
    });

    test('the whole job is bounded: a job with fields offload does not write, an oversized one, or one naming no producer is refused unrun, and the worker says so in its log', async () => {
      const { worker, hostile, pool } = setup();
      const workers = worker({ size: 1 });
      const attacker = hostile();
      const calls = pool();
      try {
        await workers.ready;
        const extra = await attacker.failure('countRuns', { ...args(), junk: 'x'.repeat(20 * 1024 * 1024) });
        assert.ok(extra instanceof TypeError);
        assert.match((extra as Error).message, /fields offload does not write \("junk"\)/);
        // A field's name is echoed bounded and escaped: it cannot flood the log or forge a line of it.
        const forged = await attacker.failure('countRuns', { ...args(), [`x\nrefused job forged${'y'.repeat(100_000)}`]: 1 });
        assert.match((forged as Error).message, /fields offload does not write \("x\\nrefused job forgedy+…"\)$/);
        assert.ok((forged as Error).message.length < 200);
        const oversized = await attacker.failure('countRuns', { v: PROTOCOL_VERSION, args: 'A'.repeat(12 * 1024 * 1024) });
        assert.equal((oversized as OffloadError).code, 'ERR_OFFLOAD_TOO_LARGE');
        await attacker.queue.add('countRuns', args(), { jobId: 'not-a-producer-1', removeOnComplete: true });
        await until(async () => workers.errors.some((line) => line.includes('not-a-producer-1')));
        assert.equal(await calls.tasks.countRuns(), 1, 'none of those jobs ran');
        assert.ok(workers.errors.some((line) => /refused job .*junk/.test(line)), workers.errors.join('\n'));
        assert.ok(!workers.errors.some((line) => line.startsWith('refused job forged') || line.length > 500), 'no forged or flooding log line');
        assert.ok(workers.errors.some((line) => /refused job .*ERR_OFFLOAD_TOO_LARGE|refused job .*over the limit/.test(line)), workers.errors.join('\n'));
      } finally {
        await calls.close();
        await attacker.close();
        await workers.stop();
      }
    });
  });
});
