/**
 * What crosses to a worker process and what does not. Values cross by Node's advanced
 * serialization, so the shared suites' values work on processes too; what only exists within one
 * process — shared memory, ports — is refused at once, by path, instead of arriving as `{}`.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Blob } from 'node:buffer';
import { createSecretKey } from 'node:crypto';
import { BlockList } from 'node:net';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { NotCloneableError, transfer } from '../src/index.js';
import { FromWorker } from '../src/protocol/messages.js';
import { refuseProcessLocal } from '../src/protocol/process-channel.js';
import type * as Tasks from './fixtures/process-tasks.js';
import { poolFor, rejection } from './helpers.js';

describe('the process boundary', () => {
  const pool = poolFor<typeof Tasks>('process-tasks.ts', 'process', { size: 1 });
  after(() => pool.close());

  test('a SharedArrayBuffer argument is refused with ERR_OFFLOAD_NOT_CLONEABLE naming its path', async () => {
    const error = await rejection(pool.tasks.echo({ label: 'x', memory: new SharedArrayBuffer(8) }));
    assert.ok(error instanceof NotCloneableError, String(error));
    assert.equal(error.code, 'ERR_OFFLOAD_NOT_CLONEABLE');
    assert.equal(error.path, 'args[0].memory');
    assert.match(error.message, /SharedArrayBuffer/);
    // A typed array over shared memory is shared memory too.
    const view = await rejection(pool.tasks.echo([1, new Int32Array(new SharedArrayBuffer(8))]));
    assert.equal((view as NotCloneableError).path, 'args[0][1]');
  });

  test('shared memory in a captured request context is refused by its path under context', async () => {
    let captured: unknown = { tenant: 'a', memory: new SharedArrayBuffer(8) };
    const withContext = poolFor<typeof Tasks>('process-tasks.ts', 'process', { size: 1, captureContext: () => captured });
    try {
      const error = await rejection(withContext.tasks.echo('x'));
      assert.ok(error instanceof NotCloneableError, String(error));
      assert.equal(error.path, 'context.memory');
      captured = { tenant: 'a' };
      assert.equal(await withContext.tasks.echo('y'), 'y');
    } finally {
      await withContext.close();
    }
  });

  test('only the refused call fails; calls sent in the same batch complete', async () => {
    const [good, bad, alsoGood] = await Promise.allSettled([
      pool.tasks.echo('a'),
      pool.tasks.echo(new Map([['memory', new SharedArrayBuffer(4)]])),
      pool.tasks.echo('b'),
    ]);
    assert.deepEqual(good, { status: 'fulfilled', value: 'a' });
    assert.equal(((bad as PromiseRejectedResult).reason as NotCloneableError).path, 'args[0].get("memory")');
    assert.deepEqual(alsoGood, { status: 'fulfilled', value: 'b' });
  });

  test('a SharedArrayBuffer in a result is refused by path, and the worker carries on', async () => {
    const error = await rejection(pool.tasks.sharedInside());
    assert.ok(error instanceof NotCloneableError, String(error));
    assert.equal(error.path, 'result.memory');
    assert.equal(await pool.tasks.echo('still here'), 'still here');
  });

  test('a MessagePort marked for transfer is refused in either direction', async () => {
    const { port1, port2 } = new MessageChannel();
    try {
      const error = await rejection(pool.tasks.echo({ reply: transfer(port1) }));
      assert.ok(error instanceof NotCloneableError, String(error));
      assert.equal(error.path, 'args[0].reply');
      assert.match(error.message, /MessagePort/);
    } finally {
      port1.close();
      port2.close();
    }
    const back = await rejection(pool.tasks.transferredPort());
    assert.equal((back as NotCloneableError).code, 'ERR_OFFLOAD_NOT_CLONEABLE');
    assert.equal((back as NotCloneableError).path, 'result');
  });

  test("Node's objects that threads receive whole but the channel would empty are refused by path", async () => {
    const blob = await rejection(pool.tasks.echo({ upload: new Blob(['bytes']) }));
    assert.ok(blob instanceof NotCloneableError, String(blob));
    assert.equal(blob.path, 'args[0].upload');
    assert.match(blob.message, /a Blob would arrive as an empty object/);
    const key = await rejection(pool.tasks.echo([createSecretKey(Buffer.from('secret'))]));
    assert.equal((key as NotCloneableError).path, 'args[0][0]');
    assert.match((key as NotCloneableError).message, /KeyObject/);
    const list = await rejection(pool.tasks.echo(new Set([new BlockList()])));
    assert.equal((list as NotCloneableError).path, 'args[0][set item 0]');
  });

  test('a transferred buffer is copied whole, and the sender still gives it up as with threads', async () => {
    const bytes = new Uint8Array(4 << 20).map((_, i) => i % 251);
    const expected = new Uint8Array(bytes);
    const copy = await pool.tasks.echo(transfer(bytes));
    assert.equal(bytes.byteLength, 0, 'the sender is left with a detached buffer');
    assert.deepEqual(copy, expected);
  });
});

test('stream items and progress values are checked like results, each message kind at its own slots', () => {
  const items = [FromWorker.Items, 7, 'plain', { nested: [new Int32Array(new SharedArrayBuffer(8))] }];
  assert.throws(
    () => refuseProcessLocal(items, 2, 1, 'item'),
    (error: unknown) => error instanceof NotCloneableError && error.path === 'item.nested[0]',
  );
  const progress = [FromWorker.Progress, 7, { port: new MessageChannel().port1 }];
  assert.throws(
    () => refuseProcessLocal(progress, 2, 1, 'progress'),
    (error: unknown) => error instanceof NotCloneableError && error.path === 'progress.port',
  );
  (progress[2] as { port: MessagePort }).port.close();
  // Values elsewhere in the message (ids, timings) are never mistaken for user values.
  assert.doesNotThrow(() => refuseProcessLocal([FromWorker.Results, 0.5, 3, 0, { ok: true }], 4, 3, 'result'));
});
