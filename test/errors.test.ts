import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import {
  ClosedError,
  NotCloneableError,
  OffloadError,
  QueueFullError,
  TaskModuleError,
  UnknownTaskError,
  registerErrorClass,
} from '../src/index.js';
import type * as Basic from './fixtures/basic.js';
import * as Errors from './fixtures/errors.js';
import { capabilities, executors, poolFor, rejection } from './helpers.js';
import { unreadableError } from './fixtures/unreadable-error.js';

registerErrorClass(Errors.ValidationError);

for (const executor of executors) {
  describe(`task errors come back faithfully (${executor})`, () => {
    const pool = poolFor<typeof Errors>('errors.ts', executor, { size: 1 });
    after(() => pool.close());

    test('built-in classes keep their class and message', async () => {
      const typeError = await rejection(pool.tasks.throwsTypeError());
      assert.ok(typeError instanceof TypeError);
      assert.equal(typeError.message, 'not a number');
      const rangeError = await rejection(pool.tasks.throwsRangeError());
      assert.ok(rangeError instanceof RangeError);
      const asyncError = await rejection(pool.tasks.rejectsAsync());
      assert.ok(asyncError instanceof TypeError);
      assert.equal(asyncError.message, 'async failure');
    });

    test('code, own properties and the whole cause chain survive; what cannot be cloned is described', async () => {
      const error = (await rejection(pool.tasks.throwsWithDetails())) as Error & Record<string, unknown>;
      assert.equal(error.message, 'startup failed');
      assert.equal(error.code, 'ESTARTUP');
      assert.equal(error.retryable, false);
      assert.deepEqual(error.attempts, [1, 2, 3]);
      assert.match(String(error.socket), /not cloneable: function/);
      const middle = error.cause as Error & { code: string };
      assert.ok(middle instanceof Error);
      assert.equal(middle.message, 'cannot read config');
      assert.equal(middle.code, 'ECONFIG');
      assert.equal((middle.cause as Error).message, 'disk unplugged');
    });

    test('a registered class comes back as that class with its fields', async () => {
      const error = await rejection(pool.tasks.throwsCustom());
      assert.ok(error instanceof Errors.ValidationError);
      assert.equal(error.field, 'email');
      assert.equal(error.name, 'ValidationError');
    });

    test("the stack shows the worker's frames and the caller's", async () => {
      async function callerFunctionName(): Promise<unknown> {
        return await rejection(pool.tasks.throwsTypeError());
      }
      const error = (await callerFunctionName()) as Error;
      assert.match(error.stack!, /throwsTypeError/);
      assert.match(error.stack!, /fixtures\/errors\.ts/);
      assert.match(error.stack!, /callerFunctionName/);
      assert.match(error.stack!, /errors\.test\.ts/);
      // Nor the task loop's own, which only add noise: the task's frames end where offload's begin.
      assert.doesNotMatch(error.stack!, /\/worker\/(runtime|thread-entry|process-entry)\.m?[jt]s/);
    });

    test("a message that names the task loop's file stays whole, and the loop's frames are still cut", async () => {
      for (const where of ['first line', 'later line', 'embedded stack'] as const) {
        const error = (await rejection(pool.tasks.throwsNamingTheTaskLoop(where))) as Error;
        assert.match(error.message, /\/worker\/(runtime|thread-entry|process-entry)\.m?[jt]s/, 'the message names the file');
        assert.ok(error.stack!.startsWith(`Error: ${error.message}\n`), 'the stack holds the whole message');
        assert.match(error.stack!, /^\s+at throwsNamingTheTaskLoop /m);
        const frames = error.stack!.slice(`Error: ${error.message}\n`.length);
        assert.doesNotMatch(frames, /^\s+at .*\/worker\/(runtime|thread-entry|process-entry)\.m?[jt]s/m, where);
      }
    });

    test('odd thrown values arrive as thrown and never crash the pool', async () => {
      assert.equal(await rejection(pool.tasks.throwsString()), 'plain string');
      assert.equal(await rejection(pool.tasks.throwsNull()), null);
      const circular = (await rejection(pool.tasks.throwsCircular())) as { name: string; self: unknown };
      assert.equal(circular.name, 'loop');
      assert.equal(circular.self, circular);
      const fn = await rejection(pool.tasks.throwsFunction());
      assert.ok(fn instanceof TypeError);
      assert.match(fn.message, /cannot be cloned/);
      assert.equal(await pool.tasks.ok(), 'still fine');
    });

    test('thrown __proto__ keys stay plain data: no prototype is polluted', async () => {
      const thrown = (await rejection(pool.tasks.throwsPolluter())) as Record<string, unknown>;
      assert.equal(Object.getPrototypeOf(thrown), Object.prototype);
      const error = (await rejection(pool.tasks.throwsErrorWithProtoKey())) as Error;
      assert.ok(error instanceof Error);
      assert.equal(Object.getPrototypeOf(error), Error.prototype);
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
      assert.equal((Object.prototype as Record<string, unknown>).polluted, undefined);
      assert.equal(await pool.tasks.ok(), 'still fine');
    });

    test('a null thrown value reaches a submit() callback as an error, not as success', async () => {
      const error = await new Promise((resolve) => pool.submit('throwsNull', [], (err) => resolve(err)));
      assert.ok(error instanceof Error);
      assert.equal((error as Error & { thrown: unknown }).thrown, null);
    });
  });

  describe(`offload's own errors carry stable codes (${executor})`, () => {
    const pool = poolFor<typeof Basic>('basic.ts', executor, { size: 1 });
    after(() => pool.close());

    test('ERR_OFFLOAD_UNKNOWN_TASK names the task and lists the real ones', async () => {
      const error = await rejection(pool.run('doesNotExist' as 'add', [1, 2]));
      assert.ok(error instanceof UnknownTaskError);
      assert.ok(error instanceof OffloadError);
      assert.equal(error.code, 'ERR_OFFLOAD_UNKNOWN_TASK');
      assert.equal(error.task, 'doesNotExist');
      assert.match(error.message, /add, /);
      assert.equal((await rejection(pool.run('teardown' as 'add', [1, 2])) as UnknownTaskError).code, 'ERR_OFFLOAD_UNKNOWN_TASK');
    });

    test('caller-controlled text is echoed bounded and escaped: a long task name with a line break, a long property key', async () => {
      // Under the 256 characters a remote job's name may have, far over the 80 an error echoes.
      const name = `evil\nforged log line \u202e${'x'.repeat(200)}`;
      const unknown = await rejection(pool.run(name as 'add', [1, 2]));
      assert.ok(unknown instanceof UnknownTaskError);
      assert.equal(unknown.task, name, 'the error keeps the whole name as data');
      assert.ok(!unknown.message.includes('\n') && !unknown.message.includes('\u202e'), unknown.message);
      assert.match(unknown.message, /no task named "evil\\nforged log line \\u\{202e\}x+…" \(tasks: /);
      assert.ok(!unknown.message.includes('x'.repeat(80)), unknown.message);
      const key = `k\n${'k'.repeat(10_000)}`;
      const uncloneable = await rejection(pool.tasks.echo({ [key]: () => 1 }));
      assert.ok(uncloneable instanceof NotCloneableError);
      assert.match(uncloneable.path, /^args\[0\]\["k\\nk+…"\]$/);
      assert.ok(uncloneable.path.length < 100 && uncloneable.message.length < 300, uncloneable.message);
    });

    test("caller-controlled text in the reason a value cannot be sent is echoed bounded and escaped: a symbol's description, a getter's error", async () => {
      const flood = `\n${'forged line\n'.repeat(10_000)}`;
      const reasons = [Symbol(flood), { get x(): never { throw new Error(flood); } }];
      for (const argument of reasons) {
        const error = await rejection(pool.tasks.echo(argument));
        assert.ok(error instanceof NotCloneableError);
        assert.ok(!error.message.includes('\n') && error.message.length < 300, error.message.slice(0, 400));
        assert.ok(error.message.endsWith('…'), error.message);
        assert.ok(error.cause instanceof Error && error.cause.message.includes(flood), 'the cause keeps the whole text');
      }
    });

    test('a getter that throws an error whose message cannot be read fails its call alone with ERR_OFFLOAD_NOT_CLONEABLE; the calls sent with it run', async () => {
      const unreadable = {
        get x(): never {
          throw unreadableError();
        },
      };
      // Made in one tick, the calls travel to the worker together; the bad one is sent alone after.
      const [before, bad, after] = await Promise.allSettled([pool.tasks.add(1, 1), pool.tasks.echo(unreadable), pool.tasks.add(2, 2)]);
      assert.deepEqual(before, { status: 'fulfilled', value: 2 });
      assert.equal(bad.status, 'rejected');
      const error = (bad as PromiseRejectedResult).reason as unknown;
      assert.ok(error instanceof NotCloneableError && error.path === 'args[0].x', String(error));
      assert.match(error.message, /unreadable message/);
      assert.deepEqual(after, { status: 'fulfilled', value: 4 });
    });

    test('ERR_OFFLOAD_NOT_CLONEABLE names the argument path, and the pool carries on', async () => {
      const error = await rejection(pool.tasks.echo({ db: { conn: () => 'socket' } }));
      assert.ok(error instanceof NotCloneableError);
      assert.equal(error.code, 'ERR_OFFLOAD_NOT_CLONEABLE');
      assert.equal(error.path, 'args[0].db.conn');
      // Tasks dispatched in the same batch as the bad one are unaffected.
      const [good, bad, alsoGood] = await Promise.allSettled([
        pool.tasks.add(1, 1),
        pool.tasks.echo([1, Symbol('nope')]),
        pool.tasks.add(2, 2),
      ]);
      assert.deepEqual(good, { status: 'fulfilled', value: 2 });
      assert.equal(((bad as PromiseRejectedResult).reason as NotCloneableError).path, 'args[0][1]');
      assert.deepEqual(alsoGood, { status: 'fulfilled', value: 4 });
    });

    test('ERR_OFFLOAD_NOT_CLONEABLE names the result path when the result cannot come back', async () => {
      const error = await rejection(pool.tasks.returnsFunction());
      assert.ok(error instanceof NotCloneableError);
      assert.equal(error.path, 'result.nested.fn');
    });

    test('ERR_OFFLOAD_QUEUE_FULL sheds load beyond maxQueue, with a retry hint', async () => {
      const small = poolFor<typeof Basic>('basic.ts', executor, { size: 1, maxQueue: 2 });
      try {
        await small.warmup();
        const calls = Array.from({ length: 5 }, () => small.tasks.window(50));
        const outcomes = await Promise.allSettled(calls);
        const rejected = outcomes.filter((o) => o.status === 'rejected').map((o) => (o as PromiseRejectedResult).reason);
        // One runs, two wait, two are shed at once.
        assert.equal(rejected.length, 2);
        for (const error of rejected) {
          assert.ok(error instanceof QueueFullError);
          assert.equal(error.code, 'ERR_OFFLOAD_QUEUE_FULL');
          assert.ok(error.retryAfter >= 1);
        }
      } finally {
        await small.close();
      }
    });

    // A remote worker whose module fails to load refuses to start (remote tests): no call reaches it.
    if (capabilities[executor].ownsWorkers)
    test('ERR_OFFLOAD_TASK_MODULE carries the load error as cause, fails fast, and does not respawn in a loop', async () => {
      const broken = poolFor<{ never(): void }>('load-fails.ts', executor, { size: 2 });
      try {
        const first = await rejection(broken.tasks.never());
        assert.ok(first instanceof TaskModuleError);
        assert.equal(first.code, 'ERR_OFFLOAD_TASK_MODULE');
        assert.equal((first.cause as Error).message, 'cannot open the database');
        // Within the retry pause a call fails at once, without starting a worker.
        const second = await rejection(broken.tasks.never());
        assert.ok(second instanceof TaskModuleError);
        // Time enough for a respawn loop to show itself: none may start.
        await new Promise((resolve) => setTimeout(resolve, 200));
        assert.equal(broken.stats().size, 0);
        await assert.rejects(broken.warmup(), TaskModuleError);
      } finally {
        await broken.close();
      }
    });

    if (capabilities[executor].ownsWorkers)
    test('a task module that does not exist is ERR_OFFLOAD_TASK_MODULE naming the path the user gave, nothing of ours', async () => {
      const missing = poolFor<{ never(): void }>('no-such-module.ts', executor, { size: 1 });
      try {
        const error = await rejection(missing.tasks.never());
        assert.ok(error instanceof TaskModuleError);
        const cause = error.cause as Error & { code?: string };
        assert.equal(cause.code, 'ERR_MODULE_NOT_FOUND');
        assert.match(cause.message, /no-such-module\.ts/);
        assert.doesNotMatch(`${error.message}\n${cause.message}\n${cause.stack ?? ''}`, /data:/);
      } finally {
        await missing.close();
      }
    });

    test('ERR_OFFLOAD_CLOSED after close() and for tasks pending at destroy()', async () => {
      const closing = poolFor<typeof Basic>('basic.ts', executor, { size: 1 });
      const pending = closing.tasks.window(100);
      const destroyed = closing.destroy();
      const error = await rejection(pending);
      assert.ok(error instanceof ClosedError);
      assert.equal(error.code, 'ERR_OFFLOAD_CLOSED');
      await destroyed;
      const late = await rejection(closing.tasks.add(1, 1));
      assert.equal((late as ClosedError).code, 'ERR_OFFLOAD_CLOSED');
    });

    test('bad arguments to run() are refused with a TypeError', async () => {
      await assert.rejects(pool.run('add', 'not an array' as never), TypeError);
      await assert.rejects(pool.run(42 as never, []), TypeError);
    });
  });
}
