import assert from 'node:assert/strict';
import { getPriority } from 'node:os';
import { describe, test } from 'node:test';
import { createPool } from '../src/index.js';
import type * as Scheduling from './fixtures/scheduling.js';
import { executors, fixture, poolFor, refusedOnRemote } from './helpers.js';

for (const executor of executors) {
  describe(`niceIncrement (${executor})`, () => {
    if (refusedOnRemote(executor, { niceIncrement: 5 }, '--nice-increment')) return;

    test('workers run their tasks at the lowered priority; the main thread keeps its own', async () => {
      const base = getPriority();
      const niced = poolFor<typeof Scheduling>('scheduling.ts', executor, { size: 2, niceIncrement: 7 });
      const plain = poolFor<typeof Scheduling>('scheduling.ts', executor, { size: 1 });
      try {
        const expected = process.platform === 'linux' ? Math.min(19, base + 7) : base;
        assert.deepEqual(await Promise.all([niced.tasks.ownNice(), niced.tasks.ownNice()]), [expected, expected]);
        assert.equal(await plain.tasks.ownNice(), base, 'without the option, workers keep the parent priority');
        assert.equal(getPriority(), base, "the pool's own thread is untouched");
      } finally {
        await Promise.all([niced.close(), plain.close()]);
      }
    });

    test('is checked: a whole number from 0 to 19', () => {
      assert.throws(() => createPool(fixture('scheduling.ts'), { executor, niceIncrement: -1 }), /niceIncrement must be at least 0/);
      assert.throws(() => createPool(fixture('scheduling.ts'), { executor, niceIncrement: 20 }), /niceIncrement must be at most 19/);
      assert.throws(() => createPool(fixture('scheduling.ts'), { executor, niceIncrement: 1.5 }), /niceIncrement must be an integer/);
    });
  });
}
