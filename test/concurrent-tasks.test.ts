import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createPool } from '../src/index.js';
import type * as Scheduling from './fixtures/scheduling.js';
import { executors, fixture, poolFor, refusedOnRemote } from './helpers.js';

type Window = Scheduling.Window;

/** The most windows open at one instant. */
function mostAtOnce(windows: readonly Window[]): number {
  const events = windows.flatMap((window) => [
    [window.start, 1],
    [window.end, -1],
  ]);
  events.sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!); // an end before a start at the same instant
  let open = 0;
  let most = 0;
  for (const [, change] of events) most = Math.max(most, (open += change!));
  return most;
}

for (const executor of executors) {
  describe(`concurrentTasksPerWorker (${executor})`, () => {
    if (refusedOnRemote(executor, { concurrentTasksPerWorker: 4 }, '--concurrent-tasks-per-worker')) return;

    test('a worker runs up to N async tasks at once, never more; with the default, one', async () => {
      const overlapping = poolFor<typeof Scheduling>('scheduling.ts', executor, { size: 1, concurrentTasksPerWorker: 4 });
      const single = poolFor<typeof Scheduling>('scheduling.ts', executor, { size: 1 });
      try {
        const windows = await Promise.all(Array.from({ length: 12 }, () => overlapping.tasks.pause(40)));
        assert.equal(new Set(windows.map((window) => window.worker)).size, 1, 'all on the one worker');
        assert.equal(mostAtOnce(windows), 4);
        const alone = await Promise.all(Array.from({ length: 4 }, () => single.tasks.pause(20)));
        assert.equal(mostAtOnce(alone), 1);
      } finally {
        await Promise.all([overlapping.close(), single.close()]);
      }
    });

    test('stats() shows how many tasks each worker holds', async () => {
      const pool = poolFor<typeof Scheduling>('scheduling.ts', executor, { size: 2, concurrentTasksPerWorker: 3 });
      try {
        await pool.warmup();
        const calls = Array.from({ length: 6 }, () => pool.tasks.pause(150));
        await new Promise((resolve) => setTimeout(resolve, 30));
        const stats = pool.stats();
        assert.deepEqual(stats.workers.map((worker) => worker.inflight), [3, 3]);
        assert.equal(stats.busy, 2);
        await Promise.all(calls);
        assert.deepEqual(pool.stats().workers.map((worker) => worker.inflight), [0, 0]);
      } finally {
        await pool.close();
      }
    });

    test('a synchronous task still holds its worker thread', async () => {
      const pool = poolFor<typeof Scheduling>('scheduling.ts', executor, { size: 1, concurrentTasksPerWorker: 4 });
      try {
        await pool.warmup();
        const [blocking, waiting] = await Promise.all([pool.tasks.spin(80), pool.tasks.pause(1)]);
        assert.ok(waiting.start >= blocking.end, 'the async task started only once the synchronous one let go');
      } finally {
        await pool.close();
      }
    });

    test('deadlines and cancellation stay per task: only the cancelled one sees it', async () => {
      const pool = poolFor<typeof Scheduling>('scheduling.ts', executor, { size: 1, concurrentTasksPerWorker: 3 });
      try {
        await pool.warmup();
        const controller = new AbortController();
        const calls = [
          pool.run('waitOwnCancel', [301], { timeout: 50 }),
          pool.run('waitOwnCancel', [302], { signal: controller.signal }),
          pool.run('waitOwnCancel', [303]),
        ];
        setTimeout(() => controller.abort(), 80);
        const [timedOut, aborted, untouched] = await Promise.allSettled(calls);
        assert.equal((timedOut as PromiseRejectedResult).reason.code, 'ERR_OFFLOAD_TIMEOUT');
        assert.equal((aborted as PromiseRejectedResult).reason.code, 'ERR_OFFLOAD_ABORTED');
        assert.deepEqual(untouched, { status: 'fulfilled', value: 'done' });
        await new Promise((resolve) => setTimeout(resolve, 50));
        assert.deepEqual((await pool.tasks.cancelledCalls()).sort(), [301, 302], 'each cancelled task saw its own signal, the third none');
      } finally {
        await pool.close();
      }
    });

    test('progress stays per task', async () => {
      const pool = poolFor<typeof Scheduling>('scheduling.ts', executor, { size: 1, concurrentTasksPerWorker: 2 });
      try {
        const seen: Record<string, unknown[]> = { a: [], b: [] };
        await Promise.all(['a', 'b'].map((tag) => pool.run('report', [tag], { onProgress: (value) => seen[tag]!.push(value) })));
        assert.deepEqual(seen, { a: ['a0', 'a1', 'a2'], b: ['b0', 'b1', 'b2'] });
      } finally {
        await pool.close();
      }
    });

    test('a worker that dies fails exactly the tasks it was running; waiting ones run on its replacement', async () => {
      const pool = poolFor<typeof Scheduling>('scheduling.ts', executor, { size: 1, concurrentTasksPerWorker: 3 });
      try {
        await pool.warmup();
        const running = [pool.tasks.pause(500), pool.tasks.pause(500), pool.tasks.crashSoon(30)];
        const waiting = pool.tasks.pause(1);
        for (const outcome of await Promise.allSettled(running)) {
          assert.equal((outcome as PromiseRejectedResult).reason?.code, 'ERR_OFFLOAD_WORKER_EXITED');
        }
        assert.equal((await waiting).worker, 2, 'the call that was waiting ran on the new worker');
        assert.equal(pool.stats().failed, 3);
      } finally {
        await pool.close();
      }
    });

    test('streams still hold their worker alone, beside overlapping calls', async () => {
      const pool = poolFor<typeof Scheduling>('scheduling.ts', executor, { size: 1, concurrentTasksPerWorker: 4 });
      try {
        const before = pool.tasks.pause(20);
        const items: number[] = [];
        const streamed = (async () => {
          for await (const item of pool.stream('count', [5])) items.push(item);
        })();
        const after = pool.tasks.pause(20);
        await Promise.all([before, streamed, after]);
        assert.deepEqual(items, [0, 1, 2, 3, 4]);
      } finally {
        await pool.close();
      }
    });

    test('calls of one key still run one at a time; different keys overlap', async () => {
      const pool = poolFor<typeof Scheduling>('scheduling.ts', executor, { size: 1, concurrentTasksPerWorker: 4 });
      try {
        await pool.warmup();
        const same = Array.from({ length: 4 }, () => pool.run('pause', [20], { key: 'one' }));
        const distinct = Array.from({ length: 4 }, (_, i) => pool.run('pause', [40], { key: `other-${i}` }));
        assert.equal(mostAtOnce(await Promise.all(same)), 1);
        assert.ok(mostAtOnce(await Promise.all(distinct)) > 1);
      } finally {
        await pool.close();
      }
    });

    test('is checked: a whole number, at least 1', () => {
      assert.throws(() => createPool(fixture('scheduling.ts'), { executor, concurrentTasksPerWorker: 0 }), /concurrentTasksPerWorker must be at least 1/);
    });
  });
}
