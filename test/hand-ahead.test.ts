import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { AbortError, QueueFullError, transfer, type Pool } from '../src/index.js';
import type * as HandAhead from './fixtures/hand-ahead.js';
import { capabilities, localExecutors, poolFor, rejection } from './helpers.js';

/** Keeps the pool's thread busy, so nothing the pool would do in a message handler can happen. */
function blockMainThread(ms: number): number {
  const until = performance.now() + ms;
  while (performance.now() < until);
  return performance.timeOrigin + performance.now();
}

/** A task that would hold its worker far longer than a test runs (the test ends it by destroy()). */
function startLong(pool: Pool<typeof HandAhead>): { ended: Promise<void>; hasEnded: () => boolean } {
  let hasEnded = false;
  const end = (): void => void (hasEnded = true);
  return { ended: pool.tasks.block('long', 10_000).then(end, end), hasEnded: () => hasEnded };
}

for (const executor of localExecutors()) {
  describe(`slow tasks handed ahead to a busy worker (${executor})`, () => {
    const { handsAhead } = capabilities[executor];

    test(
      handsAhead
        ? 'a busy thread starts its next task while the pool thread is blocked; only one is handed ahead'
        : 'a busy process waits for the pool to send its next task',
      async () => {
        const pool = poolFor<typeof HandAhead>('hand-ahead.ts', executor, { size: 1 });
        after(() => pool.close());
        await pool.warmup();
        const first = pool.tasks.block('first', 50);
        const second = pool.tasks.block('second', 10);
        const third = pool.tasks.block('third', 10);
        await nextTurn(); // the pool has dispatched
        const unblockedAt = blockMainThread(400);
        const [, secondStarted, thirdStarted] = await Promise.all([first, second, third]);
        if (handsAhead) assert.ok(secondStarted < unblockedAt, 'the second task started while the pool thread was blocked');
        else assert.ok(secondStarted > unblockedAt, 'the second task waited for the pool thread');
        assert.ok(thirdStarted > unblockedAt, 'the third task waited for the pool thread');
      },
    );

    test(
      handsAhead
        ? 'a thread starts the task handed ahead at once, before the reactions the last one left, which run once it is idle'
        : 'a process runs the reactions a task left before the pool sends its next task',
      async () => {
        const pool = poolFor<typeof HandAhead>('hand-ahead.ts', executor, { size: 1 });
        after(() => pool.close());
        await pool.warmup();
        // The thread takes the message waiting in its port without an event's dispatch (and its
        // microtask checkpoint) in between, as it runs the tasks of one batch.
        const first = pool.tasks.blockThenReact('first', 50);
        const second = pool.tasks.block('second', 10);
        await Promise.all([first, second]);
        const order = await pool.tasks.startOrderOnceIdle();
        const expected = handsAhead ? ['first', 'second', 'first: reaction'] : ['first', 'first: reaction', 'second'];
        assert.deepEqual(order, expected);
      },
    );

    test('a task sent ahead still counts as waiting for maxQueue', async () => {
      const pool = poolFor<typeof HandAhead>('hand-ahead.ts', executor, { size: 1, maxQueue: 1 });
      after(() => pool.close());
      await pool.warmup();
      const first = pool.tasks.block('first', 100);
      const second = pool.tasks.block('second', 1);
      await nextTurn();
      assert.equal(pool.stats().queued, 1, 'the second task waits, wherever it is');
      const refused = await rejection(pool.tasks.block('third', 1));
      assert.ok(refused instanceof QueueFullError);
      await Promise.all([first, second]);
    });

    test('a task cancelled while waiting ahead settles at once and never runs', async () => {
      const pool = poolFor<typeof HandAhead>('hand-ahead.ts', executor, { size: 1 });
      after(() => pool.close());
      await pool.warmup();
      const controller = new AbortController();
      const first = pool.tasks.block('first', 150);
      const cancelled = pool.run('block', ['cancelled', 1], { signal: controller.signal });
      const third = pool.tasks.block('third', 1);
      await nextTurn();
      controller.abort();
      assert.ok((await rejection(cancelled)) instanceof AbortError);
      await Promise.all([first, third]);
      assert.deepEqual(await pool.tasks.startOrder(), ['first', 'third']);
    });

    test('a call of higher priority takes the place of a task waiting ahead', async () => {
      const pool = poolFor<typeof HandAhead>('hand-ahead.ts', executor, { size: 1 });
      after(() => pool.close());
      await pool.warmup();
      const first = pool.tasks.block('first', 150);
      const low = pool.tasks.block('low', 1);
      await nextTurn(); // on threads, `low` is now ahead on the busy worker
      const high = pool.run('block', ['high', 1], { priority: 5 });
      await Promise.all([first, low, high]);
      assert.deepEqual(await pool.tasks.startOrder(), ['first', 'high', 'low']);
    });

    test('a call that moves a buffer is never handed ahead where it could not be taken back whole: a call of higher priority still runs first, and it gets its bytes', async () => {
      const pool = poolFor<typeof HandAhead>('hand-ahead.ts', executor, { size: 1 });
      after(() => pool.close());
      await pool.warmup();
      const first = pool.tasks.block('first', 150);
      const bytes = new Uint8Array([1, 2, 3]);
      const moved = pool.run('sum', ['moved', transfer(bytes)]);
      await nextTurn(); // a buffer sent ahead to a thread is in its port: taken back, it would be lost
      const high = pool.run('block', ['high', 1], { priority: 5 });
      const [, sum] = await Promise.all([first, moved, high]);
      assert.equal(sum, 6, 'the moved buffer reached the worker that ran the call');
      assert.equal(bytes.byteLength, 0, "the caller's buffer was moved");
      assert.deepEqual(await pool.tasks.startOrder(), ['first', 'high', 'moved']);
    });

    test('tasks taken back for calls of higher priority run in the order they were called', async () => {
      const pool = poolFor<typeof HandAhead>('hand-ahead.ts', executor, { size: 2 });
      after(() => pool.close());
      await pool.warmup();
      // The first worker ends its task long before the second: it runs everything that follows.
      const busy = [pool.tasks.block('short', 150), pool.tasks.block('long', 600)];
      const low1 = pool.tasks.block('low 1', 1);
      const low2 = pool.tasks.block('low 2', 1);
      await nextTurn(); // on threads, each low task now waits ahead on a busy worker
      const highs = [pool.run('block', ['high 1', 1], { priority: 5 }), pool.run('block', ['high 2', 1], { priority: 5 })];
      const [low1Started, low2Started] = await Promise.all([low1, low2, ...highs, ...busy]);
      assert.ok(low1Started! < low2Started!, 'low 1, called first, started first');
    });

    test('a task waiting ahead behind a long task moves to a worker that becomes free', async () => {
      const pool = poolFor<typeof HandAhead>('hand-ahead.ts', executor, { size: 2 });
      after(() => pool.close());
      await pool.warmup();
      const settled: string[] = [];
      const track = (label: string, call: Promise<number>): Promise<number | void> =>
        call.then(
          () => void settled.push(label),
          () => void settled.push(`${label} failed`),
        );
      // `long` would hold its worker far longer than the test runs: it is ended by destroy().
      const long = track('long', pool.tasks.block('long', 10_000));
      const short = track('short', pool.tasks.block('short', 20));
      const next = track('next', pool.tasks.block('next', 1));
      await Promise.all([short, next]);
      assert.deepEqual(settled, ['short', 'next'], 'next ran on the freed worker while long still ran');
      await pool.destroy();
      await long;
      assert.deepEqual(settled, ['short', 'next', 'long failed']);
    });

    test('a task waiting ahead behind a long task moves to a new worker when another worker leaves', async () => {
      // The other worker is replaced after two tasks; nothing else is queued to start its successor.
      const pool = poolFor<typeof HandAhead>('hand-ahead.ts', executor, { size: 2, maxTasksPerWorker: 2 });
      after(() => pool.close());
      await pool.warmup();
      const long = startLong(pool);
      const first = pool.tasks.block('first', 20);
      const next = pool.tasks.block('next', 1); // on threads, ahead of `long`
      const second = pool.tasks.block('second', 20); // the other worker's last
      await Promise.all([first, next, second]);
      assert.equal(long.hasEnded(), false, 'next ran while long still ran');
      await pool.destroy();
      await long.ended;
    });

    test('a task waiting ahead of a straggler moves to a thread that keeps taking later calls', async () => {
      const pool = poolFor<typeof HandAhead>('hand-ahead.ts', executor, { size: 2 });
      after(() => pool.close());
      await pool.warmup();
      const long = startLong(pool);
      const short = pool.tasks.block('short', 20);
      const next = pool.tasks.block('next', 1); // on threads, ahead of `long`
      let nextSettled = false;
      void next.finally(() => (nextSettled = true));
      // Later calls of the same priority keep the other worker busy, so it is never idle.
      const caller = async (): Promise<void> => {
        while (!nextSettled && !long.hasEnded()) await pool.tasks.block('later', 20);
      };
      await Promise.all([short, next, caller(), caller(), caller()]);
      assert.equal(long.hasEnded(), false, 'next ran while long still ran');
      await pool.destroy();
      await long.ended;
    });
  });
}
