import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createPool, transfer, type Pool, type RunOptions } from '../src/index.js';
import type * as Scheduling from './fixtures/scheduling.js';
import { executors, fixture, poolFor, refusedOnRemote, warningsDuring } from './helpers.js';

/** A test that would hang without the behaviour it proves: it fails in time instead. */
const SETTLES = { timeout: 30_000 };

const MEMORY_WARNING = 'OFFLOAD_MEMORY_LIMIT_BELOW_FRESH_WORKER';

/** The pool's warnings of a limit below a fresh worker, emitted while `run` runs. */
async function memoryWarningsDuring(run: () => Promise<void>): Promise<Error[]> {
  return (await warningsDuring(run)).filter((warning) => (warning as Error & { code?: unknown }).code === MEMORY_WARNING);
}

for (const executor of executors) {
  describe(`maxWorkerMemoryMb (${executor})`, () => {
    if (refusedOnRemote(executor, { maxWorkerMemoryMb: 100 }, '--max-worker-memory-mb')) return;

    /** Tiny calls first: the pool learns to send several per message to a worker. */
    const learnTiny = async (pool: Pool<typeof Scheduling>, options: RunOptions = {}): Promise<void> => {
      for (let round = 0; round < 5; round++) await Promise.all(Array.from({ length: 300 }, () => pool.run('ranAs', [-1], options)));
    };
    type Ran = { tag: number; worker: number | undefined; rank: number };
    /** Pairs of calls that one worker ran against call order (tags count calls). */
    const outOfOrder = (results: Ran[]): string[] => {
      const inversions: string[] = [];
      const sorted = [...results].sort((a, b) => (a.worker ?? 0) - (b.worker ?? 0) || a.rank - b.rank);
      for (let i = 1; i < sorted.length; i++) {
        const [before, after] = [sorted[i - 1]!, sorted[i]!];
        if (before.worker === after.worker && after.tag < before.tag) inversions.push(`${before.tag} then ${after.tag} on worker ${after.worker}`);
      }
      return inversions;
    };

    /** Replaced once, for its memory, and nothing failed or crashed. */
    const assertReplacedOnceForMemory = (pool: Pool<typeof Scheduling>): void => {
      const stats = pool.stats();
      assert.deepEqual(stats.replaced, { tasks: 0, memory: 1 });
      assert.equal(stats.crashes, 0);
      assert.equal(stats.failed, 0);
    };

    test('a worker past the limit after a task is replaced gracefully; queued calls run on the fresh one', async () => {
      // A process counts its whole resident set (Node itself and the TypeScript loader), a thread
      // only its own heap and buffers: the limit sits well above either baseline.
      const limit = executor === 'process' ? 400 : 150;
      const pool = poolFor<typeof Scheduling>('scheduling.ts', executor, { size: 1, maxWorkerMemoryMb: limit });
      const exits: Array<{ workerId: number; expected: boolean }> = [];
      pool.on('workerExited', ({ workerId, expected }) => exits.push({ workerId, expected }));
      const warnings = await memoryWarningsDuring(async () => {
        try {
          const first = await pool.tasks.hold(1);
          assert.equal(await pool.tasks.whoAmI(), first, 'under the limit: the worker stays');
          assert.deepEqual(pool.stats().replaced, { tasks: 0, memory: 0 });

          const [overLimit, ...queued] = await Promise.all([pool.tasks.hold(limit + 50), pool.tasks.whoAmI(), pool.tasks.whoAmI()]);
          assert.equal(overLimit, first, 'the task that crossed the limit still returns its value');
          assert.equal(queued.length, 2);
          for (const id of queued) assert.notEqual(id, first, 'work queued behind it went to the fresh worker');
          assert.deepEqual(exits, [{ workerId: first!, expected: true }], 'the old worker left on purpose, not by a crash');
          assertReplacedOnceForMemory(pool);
        } finally {
          await pool.close();
        }
      });
      assert.deepEqual(warnings, [], 'a fresh worker was well under the limit: nothing to warn of');
    });

    test(`a limit below what a fresh worker uses is warned of once (${MEMORY_WARNING}); each worker is still replaced after its task`, SETTLES, async () => {
      const pool = poolFor<typeof Scheduling>('scheduling.ts', executor, { size: 1, maxWorkerMemoryMb: 1 });
      const workers: Array<number | undefined> = [];
      const warnings = await memoryWarningsDuring(async () => {
        try {
          for (let i = 0; i < 3; i++) workers.push(await pool.tasks.whoAmI());
          assert.equal(pool.stats().replaced.memory >= 2, true, 'the first two workers were replaced for their memory');
        } finally {
          await pool.close();
        }
      });
      assert.equal(new Set(workers).size, 3, `each call ran on a fresh worker: ${workers.join(', ')}`);
      assert.equal(warnings.length, 1, 'once per pool, not once per worker');
      assert.equal(warnings[0]!.name, 'OffloadWarning');
      assert.match(warnings[0]!.message, /^maxWorkerMemoryMb \(1\) is below the \d+ MB a fresh worker of pool "[^"]+" uses before its first task/);
    });

    for (const concurrentTasksPerWorker of [1, 2]) {
      test(`calls sent in one batch behind the task that crossed the limit run on the fresh worker, a moved buffer with its bytes (concurrentTasksPerWorker ${concurrentTasksPerWorker})`, async () => {
        const limit = executor === 'process' ? 400 : 150;
        const pool = poolFor<typeof Scheduling>('scheduling.ts', executor, { size: 1, maxWorkerMemoryMb: limit, concurrentTasksPerWorker });
        try {
          await learnTiny(pool);
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
          assertReplacedOnceForMemory(pool);
        } finally {
          await pool.close();
        }
      });
    }

    test('calls given back message by message keep their call order on the fresh worker', async () => {
      // Lower than elsewhere (still above a fresh worker's own use): the worker crosses it quickly,
      // while the pool still sends it calls, message by message.
      const limit = executor === 'process' ? 250 : 60;
      const pool = poolFor<typeof Scheduling>('scheduling.ts', executor, { size: 1, maxWorkerMemoryMb: limit });
      try {
        await learnTiny(pool);
        let tag = 0;
        const before = Array.from({ length: 20 }, () => pool.tasks.ranAs(++tag));
        const crossing = pool.tasks.holdMidway(limit + 30, 40);
        const after = Array.from({ length: 400 }, () => pool.tasks.ranAs(++tag));
        const [old, ...results] = await Promise.all([crossing, ...before, ...after]);
        assert.deepEqual(outOfOrder(results as Ran[]), []);
        for (const result of (results as Ran[]).slice(before.length)) assert.notEqual(result.worker, old, `call ${result.tag} went to the fresh worker`);
        assert.deepEqual(pool.stats().replaced, { tasks: 0, memory: 1 });
      } finally {
        await pool.close();
      }
    });

    test("a key's calls given back keep their call order", async () => {
      const limit = executor === 'process' ? 400 : 150;
      const pool = poolFor<typeof Scheduling>('scheduling.ts', executor, { size: 1, maxWorkerMemoryMb: limit });
      try {
        await learnTiny(pool, { key: 'warm' });
        const crossing = pool.tasks.hold(limit + 50);
        const keyed = Array.from({ length: 6 }, (_, tag) => pool.run('ranAs', [tag], { key: 'K' }));
        const [old, ...results] = await Promise.all([crossing, ...keyed]);
        assert.deepEqual(outOfOrder(results), []);
        for (const result of results) assert.notEqual(result.worker, old);
      } finally {
        await pool.close();
      }
    });

    test('a stream sent behind calls the worker gives back goes to the fresh worker after them: nothing waits on the old one', SETTLES, async () => {
      const limit = executor === 'process' ? 400 : 150;
      const pool = poolFor<typeof Scheduling>('scheduling.ts', executor, { size: 1, maxWorkerMemoryMb: limit });
      try {
        await learnTiny(pool);
        const calls = [pool.tasks.whoAmI(), pool.tasks.holdMidway(limit + 50, 20), ...Array.from({ length: 5 }, () => pool.tasks.whoAmI())];
        const items = pool.stream('count', [50], { highWaterMark: 1 })[Symbol.asyncIterator]();
        const first = items.next();
        // A consumer that awaits the calls before it drains the stream: had the stream stayed on
        // the old worker, the calls given back would wait for it to leave, and it for the stream.
        const [, old, ...behind] = await Promise.all(calls);
        for (const worker of behind) assert.notEqual(worker, old);
        assert.deepEqual(await first, { value: 0, done: false });
        await items.return!();
      } finally {
        await pool.close();
      }
    });

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
