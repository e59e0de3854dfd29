/**
 * A cold pool hands its first call to the worker it starts for it, with the spawn: the call runs
 * as soon as the worker's module has loaded, without waiting for the worker to report ready and
 * for the pool to answer. Until the worker starts it the call still waits, as far as the pool is
 * concerned: it can be cancelled without running, a call of higher priority takes its place, a
 * worker ready sooner takes it, and a worker that never becomes ready gives it back. A thread
 * settles each race through shared memory; a worker process, which has none, on its channel.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { AbortError, transfer, type Pool } from '../src/index.js';
import type * as FirstCall from './fixtures/first-call.js';
import { localExecutors, poolFor } from './helpers.js';

const directory = mkdtempSync(join(tmpdir(), 'offload-first-call-'));
after(() => rmSync(directory, { recursive: true, force: true }));
let files = 0;
const freshFile = (): string => join(directory, `${++files}`);
/** How many times `count` ran with this log. */
const runs = (log: string): number => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').length - 1 : 0);

/**
 * Resolves once the cold pool has started a worker, and handed it the call (both in one dispatch:
 * at the end of the tick of the call, or once a process pool has loaded its executor's code).
 */
const spawned = async (pool: Pool<object>): Promise<void> => void (await once(pool, 'workerSpawned'));

/** Worker `id` of the pools created meanwhile loads its module in `ms` (its event loop free). */
async function withSlowLoad<T>(id: number, ms: number, body: () => Promise<T>): Promise<T> {
  process.env.FIRST_CALL_SLOW_WORKER = String(id);
  process.env.FIRST_CALL_SLOW_LOAD_MS = String(ms);
  try {
    return await body();
  } finally {
    delete process.env.FIRST_CALL_SLOW_WORKER;
    delete process.env.FIRST_CALL_SLOW_LOAD_MS;
  }
}

/** Blocks this thread (its event loop hears nothing, sends nothing) until `file` exists, or 20 s. */
function blockUntilExists(file: string): boolean {
  const nap = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + 20_000;
  while (!existsSync(file) && Date.now() < deadline) Atomics.wait(nap, 0, 0, 5);
  return existsSync(file);
}

for (const executor of localExecutors()) {
  test(`the first call runs on its new worker while the main thread is blocked: it went with the spawn (${executor})`, async () => {
    const pool = poolFor<typeof FirstCall>('first-call.ts', executor, { size: 1 });
    try {
      const marker = freshFile();
      const call = pool.tasks.signal(marker);
      await spawned(pool);
      // From here the main thread's event loop is blocked: it cannot hear the worker's ready
      // message nor send it anything. Only a call already on its way to the worker can run.
      assert.ok(blockUntilExists(marker), 'the call ran while the pool could not send it');
      assert.equal(await call, 1);
      assert.equal(pool.stats().completed, 1);
    } finally {
      await pool.close();
    }
  });

  for (const how of ['aborted', 'timed out'] as const) {
    test(`a first call ${how} while its worker starts fails at once, never runs, and the worker lives on (${executor})`, () =>
      // The worker loads for 1.5 s: the call is handed to it at once, and given up long before it could run.
      withSlowLoad(1, 1500, async () => {
        const pool = poolFor<typeof FirstCall>('first-call.ts', executor, { size: 1 });
        try {
          const log = freshFile();
          const controller = new AbortController();
          const call = pool.run('count', [log], how === 'aborted' ? { signal: controller.signal } : { timeout: 300 });
          await spawned(pool);
          assert.equal(pool.stats().queued, 1, 'the call handed to the starting worker still waits');
          controller.abort();
          await assert.rejects(call, how === 'aborted' ? AbortError : { code: 'ERR_OFFLOAD_TIMEOUT' });
          // The worker's next call is the first it runs: the cancelled one never ran.
          assert.equal(await pool.tasks.whoAmI(), 1);
          assert.equal(runs(log), 0);
          const stats = pool.stats();
          assert.equal(stats.crashes, 0);
          assert.equal(stats.queued, 0);
          assert.equal(stats.busy, 0);
        } finally {
          await pool.close();
        }
      }));
  }

  test(`while its worker starts, a first call waits in the queue as far as maxQueue is concerned (${executor})`, async () => {
    const pool = poolFor<typeof FirstCall>('first-call.ts', executor, { size: 1, maxQueue: 0 });
    try {
      const first = pool.tasks.whoAmI();
      await spawned(pool);
      assert.equal(pool.stats().queued, 1);
      // One worker, no queue: the second call is shed, as it was before the worker took the first.
      await assert.rejects(pool.run('whoAmI', []), { code: 'ERR_OFFLOAD_QUEUE_FULL' });
      assert.equal(await first, 1);
    } finally {
      await pool.close();
    }
  });

  test(`a first call given up while its worker loads, deaf, frees its place in the queue at once (${executor})`, async () => {
    // Worker 1 loads with its event loop blocked for 0.8 s: a worker process hears the pool's
    // request for the call back, and answers, only then.
    process.env.FIRST_CALL_BLOCKED_WORKER = '1';
    process.env.FIRST_CALL_BLOCKED_LOAD_MS = '800';
    const pool = poolFor<typeof FirstCall>('first-call.ts', executor, { size: 1, maxQueue: 0 });
    try {
      const log = freshFile();
      const controller = new AbortController();
      const call = pool.run('count', [log], { signal: controller.signal });
      await spawned(pool);
      controller.abort();
      await assert.rejects(call, AbortError);
      assert.equal(pool.stats().queued, 0, 'nothing waits: the call was given up');
      // One worker, no queue, and nothing waiting: the next call is admitted, and is the first to run.
      assert.equal(await pool.tasks.whoAmI(), 1);
      assert.equal(runs(log), 0);
    } finally {
      delete process.env.FIRST_CALL_BLOCKED_WORKER;
      delete process.env.FIRST_CALL_BLOCKED_LOAD_MS;
      await pool.close();
    }
  });

  test(`a call of higher priority made while the worker starts runs before the first call it was handed (${executor})`, () =>
    withSlowLoad(1, 500, async () => {
      const pool = poolFor<typeof FirstCall>('first-call.ts', executor, { size: 1 });
      try {
        const low = pool.run('order', ['low']);
        await spawned(pool);
        assert.equal(pool.stats().queued, 1, 'the worker is starting, holding the first call');
        const high = pool.run('order', ['high'], { priority: 5 });
        assert.deepEqual(await high, ['high']);
        assert.deepEqual(await low, ['high', 'low']);
      } finally {
        await pool.close();
      }
    }));

  test(`a first call that moves a buffer, taken back for a call of higher priority while the worker starts, still gets its bytes (${executor})`, () =>
    withSlowLoad(1, 500, async () => {
      const pool = poolFor<typeof FirstCall>('first-call.ts', executor, { size: 1 });
      try {
        const bytes = new Uint8Array([1, 2, 3]);
        const low = pool.run('orderSum', ['low', transfer(bytes)]);
        await spawned(pool);
        const high = pool.run('order', ['high'], { priority: 5 });
        assert.deepEqual(await high, ['high']);
        assert.deepEqual(await low, [['high', 'low'], 6]);
        assert.equal(bytes.byteLength, 0, "the caller's buffer was moved");
      } finally {
        await pool.close();
      }
    }));

  test(`a worker ready sooner takes the call handed to a worker still loading its module (${executor})`, () =>
    // Worker 2 loads for 20 s: the test can only finish in time if worker 1 runs both calls.
    withSlowLoad(2, 20_000, async () => {
      const pool = poolFor<typeof FirstCall>('first-call.ts', executor, { size: 2 });
      try {
        const log = freshFile();
        const ran = await Promise.all([pool.run('count', [log]), pool.run('count', [log])]);
        assert.deepEqual(ran, [1, 1]);
        assert.equal(pool.stats().size, 2, 'both workers were started, one per call');
        assert.equal(runs(log), 2);
      } finally {
        await pool.destroy();
      }
    }));

  test(`a worker that ends while it starts gives its first call back: it fails as a module that cannot load (${executor})`, async () => {
    process.env.FIRST_CALL_EXIT_AT_LOAD = '1';
    const pool = poolFor<typeof FirstCall>('first-call.ts', executor, { size: 1 });
    try {
      const log = freshFile();
      // Not ERR_OFFLOAD_WORKER_EXITED, as a task the worker had started would.
      await assert.rejects(pool.run('count', [log]), { code: 'ERR_OFFLOAD_TASK_MODULE' });
      assert.equal(runs(log), 0);
      assert.equal(pool.stats().queued, 0);
    } finally {
      delete process.env.FIRST_CALL_EXIT_AT_LOAD;
      await pool.destroy();
    }
  });
}
