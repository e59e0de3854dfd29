import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { MessageChannel } from 'node:worker_threads';
import { NotCloneableError, transfer } from '../src/index.js';
import type * as Basic from './fixtures/basic.js';
import { capabilities, executors, poolFor } from './helpers.js';

/** A view whose buffer was moved away (detached), as a second send of the same buffer finds it. */
function detachedBytes(): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(8).fill(1);
  structuredClone(bytes.buffer, { transfer: [bytes.buffer] });
  return bytes;
}

function revokedProxy(): object {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}

/** A call that never settles fails its test by this deadline instead of hanging the file. */
const SETTLES = { timeout: 30_000 };

test('transfer() refuses, where it is called, what cannot move: a TypeError naming its kind', () => {
  const kinds: Array<[unknown, RegExp]> = [
    [{ bytes: new Uint8Array(4) }, /got a plain object/],
    [[new ArrayBuffer(4)], /got an array/],
    [new Map(), /got a Map/],
    [() => 1, /got a function/],
    [7, /got a number/],
    [null, /got null/],
    [revokedProxy(), /got an object/],
  ];
  for (const [value, message] of kinds) {
    assert.throws(() => transfer(value as ArrayBuffer), (error: unknown) => error instanceof TypeError && message.test(error.message));
  }
  // What it takes, it returns as is.
  const bytes = new Uint8Array(4);
  assert.equal(transfer(bytes), bytes);
  const shared = new SharedArrayBuffer(4);
  assert.equal(transfer(shared as unknown as ArrayBuffer), shared);
});

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

    test('a transfer option item that cannot move is refused at admission with a TypeError naming it, and the call has no effect', SETTLES, async () => {
      const before = pool.stats();
      const refused: Array<[unknown, RegExp]> = [
        [{ bytes: 1 }, /^options\.transfer\[1\] is a plain object, which cannot be moved/],
        [new Uint8Array(4), /^options\.transfer\[1\] is a Uint8Array: list its \.buffer/],
        [new SharedArrayBuffer(4), /^options\.transfer\[1\] is a SharedArrayBuffer, which is shared/],
        [() => 1, /^options\.transfer\[1\] is a function/],
        [new Map(), /^options\.transfer\[1\] is a Map, which cannot be moved/],
        [revokedProxy(), /^options\.transfer\[1\] is an object, which cannot be moved/],
      ];
      for (const [item, message] of refused) {
        const bytes = new Uint8Array(4).fill(1);
        await assert.rejects(pool.run('sum', [bytes], { transfer: [bytes.buffer, item as ArrayBuffer] }), (error: unknown) => error instanceof TypeError && message.test(error.message));
        assert.equal(bytes.byteLength, 4, 'a refused call moves nothing');
      }
      const after = pool.stats();
      assert.equal(after.completed, before.completed);
      assert.equal(after.crashes, 0);
      assert.equal(await pool.tasks.echo(5), 5);
    });

    test('a call refused at admission takes its marks with it: a later call that does not mark the buffer copies it', SETTLES, async () => {
      const bytes = new Uint8Array(16).fill(1);
      await assert.rejects(pool.run('sum', [transfer(bytes)], { timeout: -5 }), RangeError);
      assert.equal(bytes.byteLength, 16, 'the refused call moved nothing');
      assert.equal(await pool.tasks.sum(bytes), 16);
      assert.equal(bytes.byteLength, 16, 'the mark left with the refused call: this one copies');
      // Marked again, it moves.
      assert.equal(await pool.tasks.sum(transfer(bytes)), 16);
      assert.equal(bytes.byteLength, 0);
    });

    test('task code that marks what cannot move fails that task with a TypeError', SETTLES, async () => {
      await assert.rejects(pool.tasks.markPlainObject(), (error: unknown) => error instanceof TypeError && /transfer\(\) takes an ArrayBuffer.*got a plain object/.test(error.message));
      assert.equal(await pool.tasks.echo(5), 5);
    });

    test('a detached buffer among the arguments fails its call alone with ERR_OFFLOAD_NOT_CLONEABLE naming it, listed, marked or neither', SETTLES, async () => {
      const sends = [
        (bytes: Uint8Array<ArrayBuffer>) => pool.run('sum', [bytes], { transfer: [bytes.buffer] }),
        (bytes: Uint8Array<ArrayBuffer>) => pool.tasks.sum(transfer(bytes)),
        (bytes: Uint8Array<ArrayBuffer>) => pool.run('echo', [{ nested: bytes }], { transfer: [bytes.buffer] }),
        (bytes: Uint8Array<ArrayBuffer>) => pool.tasks.sum(bytes),
      ];
      const paths = ['args[0]', 'args[0]', 'args[0].nested', 'args[0]'];
      for (const [i, send] of sends.entries()) {
        await assert.rejects(send(detachedBytes()), (error: unknown) => error instanceof NotCloneableError && error.path === paths[i], `send ${i}`);
      }
      assert.equal(pool.stats().crashes, 0);
      assert.equal(await pool.tasks.echo(5), 5);
    });

    test('a detached buffer listed but not sent has nothing left to move: the call runs', SETTLES, async () => {
      const bytes = new Uint8Array(4).fill(1);
      assert.equal(await pool.run('sum', [bytes], { transfer: [detachedBytes().buffer] }), 4);
      assert.equal(bytes.byteLength, 4);
    });

    test('a buffer listed twice, or listed and marked, or shared by two marked views, moves once', SETTLES, async () => {
      const twice = new Uint8Array(4).fill(1);
      assert.equal(await pool.run('sum', [twice], { transfer: [twice.buffer, twice.buffer] }), 4);
      assert.equal(twice.byteLength, 0);
      const both = new Uint8Array(4).fill(1);
      assert.equal(await pool.run('sum', [transfer(both)], { transfer: [both.buffer] }), 4);
      assert.equal(both.byteLength, 0);
      const buffer = new ArrayBuffer(8);
      const [low, high] = [new Uint8Array(buffer, 0, 4).fill(1), new Uint8Array(buffer, 4, 4).fill(2)];
      assert.equal(await pool.run('echo', [[transfer(low), transfer(high)]]).then((views) => (views as Uint8Array[]).map((view) => view[0])).then(String), '1,2');
      assert.equal(buffer.byteLength, 0);
    });

    test('a marked result whose buffer was already moved fails its task with ERR_OFFLOAD_NOT_CLONEABLE, not its worker', SETTLES, async () => {
      await assert.rejects(pool.tasks.returnDetachedMarked(), (error: unknown) => error instanceof NotCloneableError && error.path === 'result');
      assert.equal(pool.stats().crashes, 0);
      assert.equal(await pool.tasks.echo(5), 5);
    });

    test(capabilities[executor].movesPorts ? 'a MessagePort listed in the transfer option moves to the worker' : 'a MessagePort listed in the transfer option is refused with ERR_OFFLOAD_NOT_CLONEABLE: only buffers cross, by copy', SETTLES, async () => {
      const { port1, port2 } = new MessageChannel();
      const call = pool.run('sum', [new Uint8Array(2)], { transfer: [port1] });
      if (capabilities[executor].movesPorts) {
        assert.equal(await call, 0);
        // Moved away: this side can no longer give it to anyone.
        assert.throws(() => structuredClone(port1, { transfer: [port1] }), /already detached/);
      } else {
        await assert.rejects(call, (error: unknown) => error instanceof NotCloneableError && error.path === 'options.transfer');
        port1.close();
      }
      port2.close();
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

    test('arguments that are themselves a throwing Proxy fail their call alone with ERR_OFFLOAD_NOT_CLONEABLE, marks outstanding or not', SETTLES, async () => {
      const throwingArgs = (trap: PropertyKey): unknown[] =>
        new Proxy([1], {
          get(target, property) {
            if (property === trap) throw new Error(`reading ${String(property)}`);
            return Reflect.get(target, property) as unknown;
          },
        });
      for (const trap of ['length', Symbol.iterator]) {
        await assert.rejects(pool.run('echo', throwingArgs(trap) as [unknown]), (error: unknown) => error instanceof NotCloneableError && error.path === 'args');
      }
      const pending = transfer(new Uint8Array(4)); // outstanding while the next calls are made
      for (const trap of ['length', Symbol.iterator]) {
        await assert.rejects(pool.run('echo', throwingArgs(trap) as [unknown]), (error: unknown) => error instanceof NotCloneableError && error.path === 'args');
      }
      assert.equal(await pool.tasks.sum(pending), 0);
      assert.equal(pool.stats().crashes, 0);
    });

    test('call options are read once: a getter that answers differently on a second read cannot slip past the checks', SETTLES, async () => {
      const reads = new Map<string, number>();
      /** Options whose `name` reads as `first` once, then as `later`. */
      const twoFaced = (name: string, first: unknown, later: unknown): object => ({
        get [name]() {
          const count = (reads.get(name) ?? 0) + 1;
          reads.set(name, count);
          return count === 1 ? first : later;
        },
      });
      const bytes = new Uint8Array(8).fill(1);
      const cases: Array<[string, unknown, unknown]> = [
        ['transfer', [bytes.buffer], [{}]],
        ['timeout', undefined, -5],
        ['signal', undefined, { aborted: true }],
        ['priority', undefined, 'high'],
        ['onProgress', undefined, 7],
        ['key', undefined, 7],
      ];
      for (const [name, first, later] of cases) {
        if (name === 'key' && executor === 'remote') continue; // keys are refused on remote pools
        const total = await pool.run('sum', [bytes.byteLength === 0 ? new Uint8Array(8).fill(1) : bytes], twoFaced(name, first, later));
        assert.equal(total, 8, name);
        assert.equal(reads.get(name), 1, `options.${name} was read ${reads.get(name)} times`);
      }
      assert.equal(bytes.byteLength, 0, 'the buffer listed at the one read moved');
    });
  });
}
