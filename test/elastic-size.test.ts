import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type * as Faults from './fixtures/faults.js';
import { localExecutors, poolFor } from './helpers.js';

function until(condition: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const poll = setInterval(() => {
      if (condition()) {
        clearInterval(poll);
        resolve();
      }
    }, 10);
  });
}

// Pools that start their own workers: a remote pool has none to grow or shrink (it refuses
// size, maxSize and minSize; remote.test.ts checks that, and maxInFlight).
for (const executor of localExecutors()) {
  describe(`elastic size (${executor})`, () => {
    test('grows to maxSize under load, then shrinks to minSize when idle', async () => {
      const pool = poolFor<typeof Faults>('faults.ts', executor, { minSize: 1, maxSize: 3, idleTimeout: 100 });
      try {
        assert.equal(pool.stats().size, 0, 'nothing starts before it is needed');
        // The peak, from the pool's own events: under load a worker may already have idled out
        // by the time the last call settles, so the size read then proves nothing.
        let live = 0;
        let peak = 0;
        pool.on('workerSpawned', () => (peak = Math.max(peak, ++live)));
        pool.on('workerExited', () => live--);
        await Promise.all(Array.from({ length: 6 }, () => pool.tasks.sleep(100)));
        assert.equal(peak, 3, 'grew to maxSize and no further');
        await until(() => pool.stats().size === 1);
        assert.equal(pool.stats().size, 1, 'never below minSize');
        assert.equal(await pool.tasks.ok(1), 1);
      } finally {
        await pool.close();
      }
    });

    test('a pool with minSize 0 holds no worker once idle', async () => {
      const pool = poolFor<typeof Faults>('faults.ts', executor, { maxSize: 2, idleTimeout: 50 });
      try {
        await Promise.all([pool.tasks.ok(1), pool.tasks.ok(2)]);
        await until(() => pool.stats().size === 0);
        assert.equal(pool.stats().size, 0);
        // And it starts again on demand.
        assert.equal(await pool.tasks.ok(3), 3);
      } finally {
        await pool.close();
      }
    });

    test('warmup() starts minSize workers', async () => {
      const pool = poolFor<typeof Faults>('faults.ts', executor, { minSize: 2, maxSize: 4 });
      try {
        await pool.warmup();
        assert.equal(pool.stats().size, 2);
        assert.equal(pool.stats().idle, 2);
      } finally {
        await pool.close();
      }
    });

    test('options are checked: minSize above maxSize, size and maxSize disagreeing', () => {
      assert.throws(() => poolFor('faults.ts', executor, { minSize: 3, maxSize: 2 }), /minSize/);
      assert.throws(() => poolFor('faults.ts', executor, { size: 2, maxSize: 3 }), /disagree/);
      assert.throws(() => poolFor('faults.ts', executor, { idleTimeout: -1 }), /idleTimeout/);
    });
  });
}
