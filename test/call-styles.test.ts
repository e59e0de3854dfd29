import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { threadId } from 'node:worker_threads';
import { createPool } from '../src/index.js';
import type * as Basic from './fixtures/basic.js';
import { executors, fixture, poolFor } from './helpers.js';

for (const executor of executors) {
  describe(`call styles (${executor})`, () => {
    const pool = poolFor<typeof Basic>('basic.ts', executor, { size: 2 });
    after(() => pool.close());

    test('a typed handle runs the task in a worker and resolves with its result', async () => {
      assert.equal(await pool.tasks.add(2, 3), 5);
      const where = await pool.tasks.whoAmI();
      if (executor === 'thread') {
        assert.equal(where.pid, process.pid);
        assert.notEqual(where.thread, threadId);
      } else {
        assert.notEqual(where.pid, process.pid);
      }
      assert.equal(typeof where.worker, 'number');
    });

    test('run() calls a task by name, async tasks included', async () => {
      assert.equal(await pool.run('add', [40, 2]), 42);
      assert.equal(await pool.run('delayed', ['late', 5]), 'late');
    });

    test('values cross by structured clone: Maps, Dates, typed arrays, nested objects', async () => {
      const value = { when: new Date(0), map: new Map([['k', [1, 2]]]), bytes: new Uint16Array([1, 65535]), big: 10n };
      assert.deepEqual(await pool.tasks.echo(value), value);
    });

    test('submit() calls back exactly once, asynchronously, with (null, result)', async () => {
      const calls: unknown[][] = [];
      let returned = false;
      await new Promise<void>((resolve) => {
        pool.submit('add', [1, 2], (...args) => {
          calls.push([returned, ...args]);
          setTimeout(resolve, 20); // time for a wrong second call to show up
        });
        returned = true;
      });
      assert.deepEqual(calls, [[true, null, 3]]);
    });

    test('submit() calls back once with the error when the task fails or is unknown', async () => {
      const errors = await new Promise<unknown[]>((resolve) => {
        const seen: unknown[] = [];
        pool.submit('nope' as 'add', [1, 2], (error, result) => {
          seen.push(error, result);
          setTimeout(() => resolve(seen), 20);
        });
      });
      assert.equal(errors.length, 2);
      assert.equal((errors[0] as { code: string }).code, 'ERR_OFFLOAD_UNKNOWN_TASK');
      assert.equal(errors[1], undefined);
    });

    test('submit() reports admission errors through the callback, never synchronously', async () => {
      const closed = poolFor<typeof Basic>('basic.ts', executor, { size: 1 });
      await closed.close();
      let returned = false;
      const error = await new Promise((resolve) => {
        closed.submit('add', [1, 1], (err) => resolve([returned, err]));
        returned = true;
      });
      assert.equal((error as [boolean, { code: string }])[0], true);
      assert.equal((error as [boolean, { code: string }])[1].code, 'ERR_OFFLOAD_CLOSED');
    });

    test('submit() refuses a missing callback at once', () => {
      assert.throws(() => pool.submit('add', [1, 2], undefined as never), TypeError);
    });
  });
}

test('a compiled .js task module works, as from dist/', async () => {
  const pool = createPool<{ add(a: number, b: number): number; slowDouble(n: number): Promise<number> }>(
    fixture('basic-js.mjs'),
    { size: 1 },
  );
  try {
    assert.equal(await pool.tasks.add(1, 1), 2);
    assert.equal(await pool.tasks.slowDouble(21), 42);
  } finally {
    await pool.close();
  }
});

test('createPool refuses a relative module path and bad options at construction', () => {
  assert.throws(() => createPool('./tasks.js'), /file URL or an absolute path/);
  assert.throws(() => createPool(fixture('basic.ts'), { size: 0 }), RangeError);
  assert.throws(() => createPool(fixture('basic.ts'), { size: 1.5 }), /options\.size/);
  assert.throws(() => createPool(fixture('basic.ts'), { maxQueue: -1 }), /options\.maxQueue/);
  assert.throws(() => createPool(fixture('basic.ts'), { executor: 'fiber' as 'thread' }), /options\.executor/);
});
