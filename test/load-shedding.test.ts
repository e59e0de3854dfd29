import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { QueueFullError } from '../src/index.js';
import type * as Faults from './fixtures/faults.js';
import { executors, poolFor } from './helpers.js';

for (const executor of executors) {
  describe(`load shedding (${executor})`, () => {
    test('beyond maxQueue calls fail at once with a retry hint from the observed service time; the rest complete', async () => {
      const pool = poolFor<typeof Faults>('faults.ts', executor, { size: 2, maxQueue: 4 });
      try {
        await pool.warmup();
        await Promise.all([pool.tasks.sleep(40), pool.tasks.sleep(40)]); // teach it: ~40 ms a task
        const calls = Array.from({ length: 10 }, () => pool.tasks.sleep(40));
        const outcomes = await Promise.allSettled(calls);
        const shed = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as QueueFullError] : []));
        // Two run, four wait, four are shed, and the shed ones were refused first.
        assert.equal(shed.length, 4);
        assert.deepEqual(outcomes.slice(0, 6).map((o) => o.status), Array(6).fill('fulfilled'));
        for (const error of shed) {
          assert.ok(error instanceof QueueFullError);
          assert.equal(error.code, 'ERR_OFFLOAD_QUEUE_FULL');
          // Four waiting tasks of ~40 ms on two workers: about 100 ms, never a wild guess.
          assert.ok(error.retryAfter >= 40 && error.retryAfter <= 400, String(error.retryAfter));
        }
        assert.equal(pool.stats().shed, 4);
      } finally {
        await pool.close();
      }
    });

    test('maxQueue 0 admits only what free workers can take at once', async () => {
      const pool = poolFor<typeof Faults>('faults.ts', executor, { size: 2, maxQueue: 0 });
      try {
        const outcomes = await Promise.allSettled([pool.tasks.sleep(30), pool.tasks.sleep(30), pool.tasks.sleep(30)]);
        assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'fulfilled', 'rejected']);
      } finally {
        await pool.close();
      }
    });
  });
}
