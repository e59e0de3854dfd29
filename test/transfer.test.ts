import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { transfer } from '../src/index.js';
import type * as Basic from './fixtures/basic.js';
import { executors, poolFor } from './helpers.js';

for (const executor of executors) {
  describe(`transfer (${executor})`, () => {
    const pool = poolFor<typeof Basic>('basic.ts', executor, { size: 1 });
    after(() => pool.close());

    test('a marked argument is moved: the sender is left with a detached buffer', async () => {
      const bytes = new Uint8Array(1024).fill(2);
      const total = await pool.tasks.sum(transfer(bytes));
      assert.equal(total, 2048);
      assert.equal(bytes.byteLength, 0);
      assert.equal(bytes.buffer.byteLength, 0);
    });

    test('the run() transfer option moves listed buffers', async () => {
      const bytes = new Uint8Array(16).fill(1);
      assert.equal(await pool.run('sum', [bytes], { transfer: [bytes.buffer] }), 16);
      assert.equal(bytes.byteLength, 0);
    });

    test('an unmarked argument is copied: the sender keeps its buffer', async () => {
      const bytes = new Uint8Array(16).fill(1);
      assert.equal(await pool.tasks.sum(bytes), 16);
      assert.equal(bytes.byteLength, 16);
    });

    test('a marked result is moved out of the worker', async () => {
      const result = await pool.tasks.fill(1 << 20, 7);
      assert.equal(result.byteLength, 1 << 20);
      assert.equal(result[12345], 7);
      assert.equal(await pool.tasks.lastFillDetached(), true);
    });
  });
}
