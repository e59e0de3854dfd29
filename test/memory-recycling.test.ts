import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createPool, transfer } from '../src/index.js';
import type * as Scheduling from './fixtures/scheduling.js';
import { executors, fixture, poolFor, refusedOnRemote } from './helpers.js';

for (const executor of executors) {
  describe(`maxWorkerMemoryMb (${executor})`, () => {
    if (refusedOnRemote(executor, { maxWorkerMemoryMb: 100 }, '--max-worker-memory-mb')) return;

    test('a worker past the limit after a task is replaced gracefully; queued calls run on the fresh one', async () => {
      // A process counts its whole resident set (Node itself and the TypeScript loader), a thread
      // only its own heap and buffers: the limit sits well above either baseline.
      const limit = executor === 'process' ? 400 : 150;
      const pool = poolFor<typeof Scheduling>('scheduling.ts', executor, { size: 1, maxWorkerMemoryMb: limit });
      const exits: Array<{ workerId: number; expected: boolean }> = [];
      pool.on('workerExited', ({ workerId, expected }) => exits.push({ workerId, expected }));
      try {
        const first = await pool.tasks.hold(1);
        assert.equal(await pool.tasks.whoAmI(), first, 'under the limit: the worker stays');
        assert.deepEqual(pool.stats().replaced, { tasks: 0, memory: 0 });

        const [overLimit, ...queued] = await Promise.all([pool.tasks.hold(limit + 50), pool.tasks.whoAmI(), pool.tasks.whoAmI()]);
        assert.equal(overLimit, first, 'the task that crossed the limit still returns its value');
        assert.equal(queued.length, 2);
        for (const id of queued) assert.notEqual(id, first, 'work queued behind it went to the fresh worker');
        assert.deepEqual(exits, [{ workerId: first!, expected: true }], 'the old worker left on purpose, not by a crash');
        const stats = pool.stats();
        assert.deepEqual(stats.replaced, { tasks: 0, memory: 1 });
        assert.equal(stats.crashes, 0);
        assert.equal(stats.failed, 0);
      } finally {
        await pool.close();
      }
    });

    for (const concurrentTasksPerWorker of [1, 2]) {
      test(`calls sent in one batch behind the task that crossed the limit run on the fresh worker, a moved buffer with its bytes (concurrentTasksPerWorker ${concurrentTasksPerWorker})`, async () => {
        const limit = executor === 'process' ? 400 : 150;
        const pool = poolFor<typeof Scheduling>('scheduling.ts', executor, { size: 1, maxWorkerMemoryMb: limit, concurrentTasksPerWorker });
        try {
          // Tiny calls first: the pool learns to send several per message to a worker.
          for (let round = 0; round < 3; round++) await Promise.all(Array.from({ length: 50 }, () => pool.tasks.whoAmI()));
          const first = await pool.tasks.whoAmI();
          const bytes = new Uint8Array([1, 2, 3]);
          const [overLimit, before, moved, after] = await Promise.all([
            pool.tasks.hold(limit + 50),
            pool.tasks.whoAmI(),
            pool.run('sumHere', [transfer(bytes)]),
            pool.tasks.whoAmI(),
          ]);
          assert.equal(overLimit, first, 'the task that crossed the limit ran on the first worker');
          for (const id of [before, moved.worker, after]) assert.notEqual(id, first, 'work behind it went to the fresh worker');
          assert.equal(moved.sum, 6, 'the moved buffer came back whole and went on to the fresh worker');
          assert.equal(bytes.byteLength, 0, "the caller's buffer was moved");
          const stats = pool.stats();
          assert.deepEqual(stats.replaced, { tasks: 0, memory: 1 });
          assert.equal(stats.crashes, 0);
          assert.equal(stats.failed, 0);
        } finally {
          await pool.close();
        }
      });
    }

    test('replacements are counted by cause: task count and memory apart', async () => {
      const pool = poolFor<typeof Scheduling>('scheduling.ts', executor, { size: 1, maxTasksPerWorker: 2 });
      try {
        for (let i = 0; i < 5; i++) await pool.tasks.whoAmI();
        assert.deepEqual(pool.stats().replaced, { tasks: 2, memory: 0 });
      } finally {
        await pool.close();
      }
    });

    test('is checked: a whole number of MB, at least 1', () => {
      assert.throws(() => createPool(fixture('scheduling.ts'), { executor, maxWorkerMemoryMb: 0 }), /maxWorkerMemoryMb must be at least 1/);
      assert.throws(() => createPool(fixture('scheduling.ts'), { executor, maxWorkerMemoryMb: 1.5 }), /maxWorkerMemoryMb must be an integer/);
    });
  });
}
