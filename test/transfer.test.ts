import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { NotCloneableError, transfer } from '../src/index.js';
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

    test('with marks outstanding (a buffer marked and never sent), an unreadable argument or result still fails its call alone with ERR_OFFLOAD_NOT_CLONEABLE naming it', async () => {
      transfer(new Uint8Array(4)); // never sent: its mark stays outstanding in this process
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      const unreadable = [[{ get x(): never { throw new Error('getter'); } }, 'args[0].x'], [proxy, 'args[0]']] as const;
      for (const [argument, path] of unreadable) {
        await assert.rejects(pool.run('echo', [argument]), (error: unknown) => error instanceof NotCloneableError && error.path === path);
      }
      await assert.rejects(pool.run('markThenReturnUnreadable', []), (error: unknown) => error instanceof NotCloneableError && error.path === 'result.bad');
      assert.equal(pool.stats().crashes, 0);
      assert.equal(await pool.tasks.echo(5), 5);
    });
  });
}
