import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type * as Basic from './fixtures/basic.js';
import { capabilities, executors, poolFor } from './helpers.js';

for (const executor of executors) {
  describe(`parallelism (${executor})`, () => {
    test('tasks run at the same time on different workers: their execution windows overlap', async () => {
      const pool = poolFor<typeof Basic>('basic.ts', executor, { size: 2 });
      try {
        await pool.warmup();
        const windows = await Promise.all([pool.tasks.window(300), pool.tasks.window(300)]);
        const [a, b] = windows as [(typeof windows)[0], (typeof windows)[0]];
        assert.notEqual(a.worker, b.worker);
        assert.ok(a.start < b.end && b.start < a.end, `windows do not overlap: ${JSON.stringify(windows)}`);
      } finally {
        await pool.close();
      }
    });

    test('a slow task never waits behind another while a worker is free, even after tiny tasks', async () => {
      const pool = poolFor<typeof Basic>('basic.ts', executor, { size: 2 });
      try {
        await pool.warmup();
        // Thousands of tiny tasks teach the pool to pipeline...
        await Promise.all(Array.from({ length: capabilities[executor].bulk(5000) }, () => pool.tasks.noop()));
        // ...yet two slow ones submitted together still go to different workers.
        const windows = await Promise.all([pool.tasks.window(200), pool.tasks.window(200)]);
        assert.notEqual(windows[0].worker, windows[1].worker);
      } finally {
        await pool.close();
      }
    });

    test('a backlog larger than the pool is served by every worker and loses nothing', async () => {
      const pool = poolFor<typeof Basic>('basic.ts', executor, { size: 2 });
      try {
        const count = capabilities[executor].bulk(20_000);
        const results = await Promise.all(Array.from({ length: count }, (_, i) => pool.tasks.add(i, 1)));
        assert.equal(results.length, count);
        results.forEach((value, i) => assert.equal(value, i + 1));
        const stats = pool.stats();
        assert.equal(stats.size, 2);
        assert.equal(stats.completed, count);
        assert.equal(stats.queued, 0);
      } finally {
        await pool.close();
      }
    });
  });
}
