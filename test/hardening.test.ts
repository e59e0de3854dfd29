/**
 * Regression tests of issue 18: what a hostile or careless caller or task sends must fail that
 * call alone, never crash the main process, hang a pool or be mistaken for offload's own error.
 * One test per item, on both executors that own their workers.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runInNewContext } from 'node:vm';
import { after, before, describe, test } from 'node:test';
import { createPool, type Pool } from '../src/index.js';
import type * as Hostile from './fixtures/hostile.js';
import type * as Thenable from './fixtures/thenable.js';
import { fixture, localExecutors, poolFor, rejection } from './helpers.js';

const scratch = mkdtempSync(join(tmpdir(), 'offload-hardening-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Unhandled rejections seen while a test ran: each one would end a real process. */
function watchUnhandled(): { seen: unknown[]; stop(): void } {
  const seen: unknown[] = [];
  const onRejection = (reason: unknown): void => void seen.push(reason);
  process.on('unhandledRejection', onRejection);
  return { seen, stop: () => process.off('unhandledRejection', onRejection) };
}

const tick = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await tick(10);
}

/** The error a call was refused with, whether thrown at once, rejected, or met at the first pull. */
async function refusal(call: () => unknown): Promise<unknown> {
  try {
    const made = call() as { then?: unknown; [Symbol.asyncIterator]?: () => AsyncIterator<unknown> };
    if (typeof made.then === 'function') await made;
    else await made[Symbol.asyncIterator]!().next();
  } catch (error) {
    return error;
  }
  throw new Error('the call was not refused');
}

function codeOf(error: unknown): unknown {
  return (error as { code?: unknown }).code;
}

for (const executor of localExecutors()) {
  describe(`hardening (${executor})`, () => {
    const teardownLog = join(scratch, `teardown-${executor}.log`);
    let pool: Pool<typeof Hostile>;
    before(() => {
      pool = poolFor<typeof Hostile>('hostile.ts', executor, { size: 2, env: { ...process.env, HOSTILE_TEARDOWN_LOG: teardownLog } });
    });
    after(() => pool.close());

    test('1. a refused option arms nothing: no deadline fires later, no count goes wrong, submit reports through its callback', async () => {
      const unhandled = watchUnhandled();
      try {
        const badProgress = { onProgress: 'nope' as unknown as () => void, timeout: 5 };
        const refused = await rejection(pool.run('add', [1, 2], badProgress));
        assert.ok(refused instanceof TypeError);
        assert.match(refused.message, /onProgress/);
        const viaSubmit = await new Promise<unknown>((resolve) => pool.submit('add', [1, 2], (error) => resolve(error), badProgress));
        assert.ok(viaSubmit instanceof TypeError);
        await tick(30); // past the refused calls' deadline: had it been armed, it would have fired
        assert.equal(pool.stats().queued, 0);
        assert.equal(await pool.run('add', [2, 3]), 5);
        for (const options of [{ transfer: 'x' }, { highWaterMark: 0 }, { stallTimeout: -1 }, { timeout: 0 }, null]) {
          await rejection(pool.run('add', [1, 2], options as never));
        }
        const notMovable = await rejection(pool.run('add', [1, 2], { transfer: [new ArrayBuffer(8), 1] } as never));
        assert.ok(notMovable instanceof TypeError);
        assert.match(notMovable.message, /options\.transfer\[1\] is a number, which cannot be moved/);
        assert.equal(pool.stats().queued, 0);
        assert.equal(pool.stats().failed, 0, 'refused at admission: never counted as a failed call');
        assert.deepEqual(unhandled.seen, []);
      } finally {
        unhandled.stop();
      }
    });

    test('2. an argument whose getter or Proxy trap throws, at any depth, fails that call alone', async () => {
      const throwing = { get secret(): never { throw new Error('getter'); } };
      const trapped = new Proxy({}, { ownKeys: () => { throw new Error('ownKeys trap'); }, get: () => { throw new Error('get trap'); } });
      const revocable = Proxy.revocable({}, {});
      revocable.revoke();
      const hostile: unknown[] = [throwing, { deep: { deeper: [throwing] } }, trapped, { inner: trapped }, revocable.proxy, new Map([['k', throwing]])];
      for (const value of hostile) {
        const error = await rejection(pool.run('add', [value as never, 1]));
        assert.equal(codeOf(error), 'ERR_OFFLOAD_NOT_CLONEABLE');
        assert.match((error as { path: string }).path, /^args\[0\]/);
      }
      const named = (await rejection(pool.run('add', [{ deep: { deeper: [throwing] } } as never, 1]))) as { path: string };
      assert.equal(named.path, 'args[0].deep.deeper[0].secret');
      assert.equal(await pool.run('add', [1, 1]), 2);
    });

    test('3. env and execArgv that Node would refuse are refused by createPool, naming the option', () => {
      const module = fixture('hostile.ts');
      assert.throws(() => createPool(module, { executor, env: { A: 1 as unknown as string } }), /options\.env\.A must be a string/);
      assert.throws(() => createPool(module, { executor, env: { A: 'a\0b' } }), /options\.env\.A contains a NUL byte/);
      assert.throws(() => createPool(module, { executor, execArgv: ['--no-warnings\0'] }), /options\.execArgv has a flag with a NUL byte/);
    });

    test('4. the script goes on after `await pool.destroy()` and `await pool.close()`', async () => {
      const script = new URL('./fixtures/destroy-then-continue.ts', import.meta.url).pathname;
      for (const ending of ['destroy', 'close']) {
        const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script, executor, ending], { timeout: 60_000 });
        assert.match(stdout, /continued/, `${ending}: the rest of the script ran`);
      }
    });

    test('5. a task module that exports `then` loads, and `then` is an ordinary task', async () => {
      const thenable = poolFor<typeof Thenable>('thenable.ts', executor, { size: 1 });
      await thenable.warmup();
      assert.equal(await thenable.run('then', [4]), 8);
      assert.equal(await thenable.tasks.add(1, 2), 3);
      await thenable.close();
    });

    test('6. every task of a batch gets its progress, before its result', async () => {
      const order: string[] = [];
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          pool.run('echoProgress', [i], { onProgress: (value) => void order.push(`progress ${String(value)}`) }).then(() => void order.push(`result ${i}`)),
        ),
      );
      for (let i = 0; i < 20; i++) {
        const progressAt = order.indexOf(`progress ${i}`);
        assert.ok(progressAt !== -1, `task ${i} received its progress`);
        assert.ok(progressAt < order.indexOf(`result ${i}`), `task ${i}: progress before result`);
      }
    });

    test('7. timeouts beyond a Node timer (Infinity, 2^31 ms, 30 days) are honoured, not fired at once', async () => {
      for (const timeout of [Infinity, 2 ** 31, 30 * 24 * 3600 * 1000]) {
        assert.equal(await pool.run('nap', [40], { timeout }), 40, `timeout ${timeout}`);
      }
      const longPool = poolFor<typeof Hostile>('hostile.ts', executor, { size: 1, cancelGracePeriod: Infinity });
      const exits: unknown[] = [];
      longPool.on('workerExited', (event) => exits.push(event));
      // The task ignores its cancellation; with no grace limit its worker is left to finish it.
      assert.equal(codeOf(await rejection(longPool.run('sleep', [200], { timeout: 20 }))), 'ERR_OFFLOAD_TIMEOUT');
      assert.equal(await longPool.run('add', [1, 2]), 3);
      assert.deepEqual(exits, []);
      const running = longPool.run('nap', [50]);
      const report = await longPool.close({ timeout: Infinity });
      assert.equal(report.timedOut, false);
      assert.equal(await running, 50);
      assert.throws(() => createPool(fixture('hostile.ts'), { executor, cancelGracePeriod: 2 ** 31 }), /options\.cancelGracePeriod must be at most/);
    });

    test('8a. a yielded item that cannot be sent fails the stream naming it, after the items before it', async () => {
      const received: unknown[] = [];
      const error = await rejection(
        (async () => {
          for await (const item of pool.stream('items', [6, 3])) received.push(item);
        })(),
      );
      assert.deepEqual(received, [{ index: 0 }, { index: 1 }, { index: 2 }]);
      assert.equal(codeOf(error), 'ERR_OFFLOAD_NOT_CLONEABLE');
      assert.equal((error as { path: string }).path, 'item[3].run');
      assert.equal(await pool.run('add', [1, 2]), 3);
    });

    test('8b. concurrent next() calls on one stream are all answered, in order', async () => {
      const stream = pool.stream('items', [2, -1]);
      const answers = await Promise.all([stream.next(), stream.next(), stream.next(), stream.next()]);
      assert.deepEqual(answers, [
        { value: { index: 0 }, done: false },
        { value: { index: 1 }, done: false },
        { value: undefined, done: true },
        { value: undefined, done: true },
      ]);
    });

    test('8c. highWaterMark is validated on every path, `pool.tasks.x.with()` included', async () => {
      const probe = poolFor<typeof Hostile>('hostile.ts', executor, { size: 1 });
      const zero = { highWaterMark: 0 };
      // Before the task kinds are known (a first call), and after.
      assert.match(String(await refusal(() => probe.tasks.items.with(zero as never)(3, -1))), /highWaterMark must be a positive integer/);
      await probe.warmup();
      assert.match(String(await refusal(() => probe.tasks.items.with(zero as never)(3, -1))), /highWaterMark must be a positive integer/);
      assert.match(String(await refusal(() => probe.stream('items', [3, -1], zero))), /highWaterMark must be a positive integer/);
      const report = await probe.close({ timeout: 10_000 });
      assert.equal(report.timedOut, false);
    });

    test('8d. a consumer that takes nothing for stallTimeout ends the stream with ERR_OFFLOAD_STALLED and frees the worker', async () => {
      const marker = join(scratch, `stalled-${executor}.log`);
      const stallPool = poolFor<typeof Hostile>('hostile.ts', executor, { size: 1 });
      const stream = stallPool.stream('endless', [marker], { highWaterMark: 8, stallTimeout: 100 });
      assert.deepEqual(await stream.next(), { value: 0, done: false });
      const failed = new Promise<unknown>((resolve) => stream.signal.addEventListener('abort', () => resolve(stream.signal.reason)));
      // Take nothing more: the stall limit must free the pool's only worker.
      assert.equal(codeOf(await failed), 'ERR_OFFLOAD_STALLED');
      assert.equal(await stallPool.run('add', [1, 2]), 3);
      await waitFor(() => existsSync(marker) && readFileSync(marker, 'utf8').includes('finally ran'));
      assert.equal(codeOf(await rejection(stream.next())), 'ERR_OFFLOAD_STALLED');
      assert.equal(stallPool.stats().failures['ERR_OFFLOAD_STALLED'], 1);
      await stallPool.close();
    });

    test('9a. what a task throws or returns with throwing getters fails that task, never its worker', async () => {
      const crashesBefore = pool.stats().crashes;
      const message = await rejection(pool.run('throwWithMessageGetter', []));
      assert.ok(message instanceof Error);
      assert.match(message.message, /unreadable message/);
      assert.equal(((await rejection(pool.run('throwWithNameGetter', []))) as Error).message, 'named');
      const property = (await rejection(pool.run('throwWithPropertyGetter', []))) as Error & { detail: unknown };
      assert.match(String(property.detail), /unreadable/);
      assert.match(((await rejection(pool.run('throwRevokedProxy', []))) as Error).message, /cannot be read/);
      const result = await rejection(pool.run('returnWithGetter', []));
      assert.equal(codeOf(result), 'ERR_OFFLOAD_NOT_CLONEABLE');
      assert.equal((result as { path: string }).path, 'result.bad');
      // The getter's error cannot even say its message: the task still fails alone, naming it.
      const unreadable = await rejection(pool.run('returnWithUnreadableErrorGetter', []));
      assert.equal(codeOf(unreadable), 'ERR_OFFLOAD_NOT_CLONEABLE');
      assert.equal((unreadable as { path: string }).path, 'result.bad');
      assert.match((unreadable as Error).message, /unreadable message/);
      assert.equal(pool.stats().crashes, crashesBefore);
    });

    test('9c. a returned value that throws when inspected (revoked proxy, then getter, iterator return) fails that task alone: alone, in a batch, or beside another', async () => {
      const hostile = [
        ['returnRevokedProxy', /revoked/],
        ['returnThenGetterThatThrows', /then getter/],
        ['returnIteratorWhoseReturnThrows', /is a generator task/],
      ] as const;
      const side = poolFor<typeof Hostile>('hostile.ts', executor, { size: 1, concurrentTasksPerWorker: 2 });
      try {
        for (const target of [pool, side]) {
          const crashesBefore = target.stats().crashes;
          for (const [name, message] of hostile) {
            assert.match(((await rejection(target.run(name, []))) as Error).message, message);
            // Sent together, they reach the worker as one batch: the neighbours are answered.
            const [before, failed, after] = await Promise.allSettled([target.run('add', [1, 1]), target.run(name, []), target.run('add', [2, 2])]);
            assert.deepEqual(before, { status: 'fulfilled', value: 2 });
            assert.equal(failed!.status, 'rejected');
            assert.match(((failed as PromiseRejectedResult).reason as Error).message, message);
            assert.deepEqual(after, { status: 'fulfilled', value: 4 });
          }
          assert.equal(target.stats().crashes, crashesBefore, 'no worker died');
        }
      } finally {
        await side.close();
      }
    });

    test('9b. only exported functions and @blocking methods of exported classes are tasks', async () => {
      const unreachable = [
        'teardown',
        'teardown#constructor',
        'add#constructor',
        'add#toString',
        'Service#constructor',
        'Service#undecorated',
        'Service#__proto__',
        'Service#hasOwnProperty',
        'constructor',
        'toString',
        '__proto__',
        'hasOwnProperty',
      ];
      for (const name of unreachable) {
        assert.equal(codeOf(await rejection(pool.run(name as never, [] as never))), 'ERR_OFFLOAD_UNKNOWN_TASK', name);
      }
      assert.equal(await pool.run('Service#greet' as never, ['you'] as never), 'hello you');
      assert.ok(!existsSync(teardownLog) || !readFileSync(teardownLog, 'utf8').includes('teardown ran'), 'teardown never ran as a task');
    });

    test("12. a signal is watched through the platform's own methods, whatever the caller put on it: every call settles once and nothing escapes", async () => {
      const escaped: unknown[] = [];
      const record = (error: unknown): void => void escaped.push(error);
      process.on('uncaughtExceptionMonitor', record);
      try {
        for (const property of ['addEventListener', 'removeEventListener', 'aborted', 'reason']) {
          /** A signal whose own `property` throws, shadowing its prototype's. */
          const hostile = (): AbortController => {
            const controller = new AbortController();
            Object.defineProperty(controller.signal, property, {
              get: () => {
                throw new Error(`hostile ${property}`);
              },
            });
            return controller;
          };
          // Answered: the result path unwatches the signal, with a deadline armed beside it or not.
          assert.equal(await pool.run('add', [1, 2], { signal: hostile().signal }), 3, property);
          assert.equal(await pool.run('add', [2, 2], { signal: hostile().signal, timeout: 20 }), 4, property);
          // Aborted, running or waiting: the abort is heard, with the signal's real reason.
          const aborted = hostile();
          const running = rejection(pool.run('nap', [200], { signal: aborted.signal }));
          const beside = pool.run('nap', [200]);
          const waiting = rejection(pool.run('add', [1, 1], { signal: aborted.signal }));
          aborted.abort(new Error('the caller left'));
          for (const error of [await running, await waiting]) {
            assert.equal(codeOf(error), 'ERR_OFFLOAD_ABORTED', property);
            assert.equal(((error as Error).cause as Error).message, 'the caller left', property);
          }
          assert.equal(await beside, 200);
          // Timed out: the deadline settles it, and unwatching the signal throws nothing.
          assert.equal(codeOf(await rejection(pool.run('nap', [200], { signal: hostile().signal, timeout: 20 }))), 'ERR_OFFLOAD_TIMEOUT', property);
        }
        // Its internals tampered with: a reason that throws once read still aborts every call sharing the signal.
        const tampered = new AbortController();
        const sharing = [0, 1, 2].map(() => rejection(pool.run('nap', [200], { signal: tampered.signal })));
        const kReason = Object.getOwnPropertySymbols(tampered.signal).find((symbol) => symbol.description === 'kReason')!;
        let reads = 0;
        let stored: unknown;
        Object.defineProperty(tampered.signal, kReason, {
          get: () => {
            if (reads++ === 0) throw new Error('tampered reason');
            return stored;
          },
          set: (value: unknown) => void (stored = value),
        });
        tampered.abort();
        for (const call of sharing) assert.equal(codeOf(await call), 'ERR_OFFLOAD_ABORTED');
        await tick(250); // past every deadline above, and the naps they left running
        assert.deepEqual(escaped, []);
        assert.deepEqual([pool.stats().queued, pool.stats().busy], [0, 0]);
        // What only looks like a signal is refused, and arms nothing.
        for (const signal of [Object.create(AbortSignal.prototype) as AbortSignal, new Proxy(new AbortController().signal, {})]) {
          const refused = await rejection(pool.run('add', [1, 2], { signal, timeout: 5 }));
          assert.ok(refused instanceof TypeError);
          assert.equal(refused.message, 'options.signal must be an AbortSignal');
        }
        await tick(30);
        assert.equal(pool.stats().queued, 0);
        assert.equal(await pool.run('add', [3, 3]), 6);
      } finally {
        process.off('uncaughtExceptionMonitor', record);
      }
    });

    test('13. a sparse array is sent and returned at the cost of what it holds, and a Proxy of a made-up length is refused at once', async () => {
      const huge: unknown[] = [];
      huge.length = 2 ** 32 - 1;
      huge[7] = { seven: 7 };
      assert.deepEqual(await pool.run('shape', [huge]), [2 ** 32 - 1, 1]);
      const returned = (await pool.run('sparse', [2 ** 32 - 1])) as unknown[];
      assert.equal(returned.length, 2 ** 32 - 1);
      assert.deepEqual(returned[2 ** 32 - 2], { last: true });
      const madeUp = new Proxy([], { get: (target, key) => (key === 'length' ? 2 ** 32 - 1 : Reflect.get(target, key)) });
      assert.equal(codeOf(await rejection(pool.run('shape', [madeUp]))), 'ERR_OFFLOAD_NOT_CLONEABLE');
      // An array's other keys are named as an object's are: quoted, escaped.
      const keyed = Object.assign([1], { 'a\nb': () => 1 });
      assert.equal(((await rejection(pool.run('shape', [keyed]))) as { path: string }).path, 'args[0]["a\\nb"]');
      if (executor === 'process') {
        // Shared memory stays refused however it is dressed: from another realm, or behind a `buffer` of the view's own.
        const foreign = new Uint8Array(runInNewContext('new SharedArrayBuffer(4)') as SharedArrayBuffer);
        const disguised = Object.defineProperty(new Uint8Array(new SharedArrayBuffer(4)), 'buffer', { value: new ArrayBuffer(4) });
        for (const view of [foreign, disguised]) {
          const refused = await rejection(pool.run('shape', [[view]]));
          assert.equal(codeOf(refused), 'ERR_OFFLOAD_NOT_CLONEABLE');
          assert.equal((refused as { path: string }).path, 'args[0][0]');
        }
      }
      assert.equal(await pool.run('add', [1, 1]), 2);
    });

    test('14. a refused option value is named by kind or escaped, never printed by its own code', async () => {
      const throwing = { [Symbol.toPrimitive]: (): never => { throw new Error('toPrimitive'); }, toString: (): never => { throw new Error('toString'); } };
      const cases: Array<[object, string]> = [
        [{ priority: throwing }, 'options.priority must be an integer (got an object)'],
        [{ timeout: throwing }, 'options.timeout must be a positive number of milliseconds or Infinity (got an object)'],
        [{ highWaterMark: () => 1 }, 'options.highWaterMark must be a positive integer (got a function)'],
        [{ timeout: 'soon\nERROR forged line' }, 'options.timeout must be a positive number of milliseconds or Infinity (got "soon\\nERROR forged line")'],
        [{ priority: 'x'.repeat(1_000) }, `options.priority must be an integer (got "${'x'.repeat(80)}…")`],
        [{ priority: 2n ** 4_000n }, 'options.priority must be an integer (got a bigint)'],
      ];
      for (const [options, message] of cases) {
        const refused = await rejection(pool.run('add', [1, 2], options as never));
        assert.ok(refused instanceof TypeError || refused instanceof RangeError, message);
        assert.equal((refused as Error).message, message);
      }
      const refusedPool = (options: object): string => {
        try {
          createPool(fixture('hostile.ts'), { executor, ...options });
        } catch (error) {
          return (error as Error).message;
        }
        throw new Error('createPool took the options');
      };
      assert.equal(refusedPool({ size: throwing }), 'options.size must be an integer (got an object)');
      assert.equal(refusedPool({ size: throwing, maxSize: 2 }), 'options.size and options.maxSize disagree (an object and 2); give one');
      assert.equal(refusedPool({ size: Symbol('s') }), 'options.size must be an integer (got Symbol(s))');
      assert.equal(refusedPool({ env: { 'A\nB': 1 } }), 'options.env["A\\nB"] must be a string (got number)');
      if (executor === 'process') {
        assert.equal(refusedPool({ cwd: '/etc/passwd/x' }), 'options.cwd must be an existing directory (got "/etc/passwd/x")');
        assert.equal(refusedPool({ cwd: 'a\0b' }), 'options.cwd must be an existing directory (got "a\\u{0}b")');
      }
      assert.equal(await pool.run('add', [1, 1]), 2);
    });

    test('15. a signal is heard even when Object.prototype carries a `signal` of its own (prototype pollution)', async () => {
      const script = new URL('./fixtures/polluted-signal.ts', import.meta.url).pathname;
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script, executor], { timeout: 60_000 });
      assert.equal(stdout.trim(), 'ERR_OFFLOAD_ABORTED');
    });

    test('16. a task that clears every listener of its process leaves its worker serving: now, again, silently, or from a timer', async () => {
      const alone = poolFor<typeof Hostile>('hostile.ts', executor, { size: 1 });
      try {
        for (const [later, silently] of [[false, false], [false, false], [false, true], [true, false]] as const) {
          assert.equal(await alone.run('dropAllListeners', [later, silently]), 1);
          await new Promise((resolve) => setTimeout(resolve, 20)); // the timer's turn, where there is one
          // Deaf to its parent, the worker would leave this call waiting until its deadline.
          assert.equal(await alone.run('add', [2, 3], { timeout: 10_000 }), 5);
        }
        assert.equal(alone.stats().crashes, 0);
      } finally {
        await alone.close();
      }
    });

    test('11. stats() counts offload\'s own errors by code, and a task error that borrows a code as the task\'s', async () => {
      const counted = createPool<typeof Hostile>(fixture('hostile.ts'), { executor, size: 1 });
      await rejection(counted.run('nope' as never, [] as never));
      await rejection(counted.run('returnFunction', []));
      await rejection(counted.run('throwOffloadCode', ['ERR_OFFLOAD_TIMEOUT']));
      assert.deepEqual(counted.stats().failures, { ERR_OFFLOAD_UNKNOWN_TASK: 1, ERR_OFFLOAD_NOT_CLONEABLE: 1, task: 1 });
      // The borrowed code still reaches the caller: the task's error keeps what it carried.
      assert.equal(codeOf(await rejection(counted.run('throwOffloadCode', ['ERR_OFFLOAD_QUEUE_FULL']))), 'ERR_OFFLOAD_QUEUE_FULL');
      await counted.close();
    });
  });
}

test('3. execArgv flags a thread refuses fail calls and warmup with ERR_OFFLOAD_TASK_MODULE, never an uncaught exception', async () => {
  const pool = createPool<typeof Hostile>(fixture('hostile.ts'), { executor: 'thread', execArgv: ['--max-old-space-size=256'] });
  const error = await rejection(pool.run('add', [1, 2]));
  assert.equal(codeOf(error), 'ERR_OFFLOAD_TASK_MODULE');
  assert.match((error as Error).message, /execArgv/);
  assert.equal(codeOf(await rejection(pool.warmup())), 'ERR_OFFLOAD_TASK_MODULE');
  await pool.close();
  // Closed in the call's own tick: the failed spawn leaves no worker whose exit would end close().
  const closing = createPool<typeof Hostile>(fixture('hostile.ts'), { executor: 'thread', execArgv: ['--max-old-space-size=256'] });
  const call = rejection(closing.run('add', [1, 2]));
  assert.deepEqual(await closing.close(), { timedOut: false, cancelled: { queued: 0, running: 0 } });
  assert.equal(codeOf(await call), 'ERR_OFFLOAD_TASK_MODULE');
});

test('resourceLimits that Node would ignore or could not start a worker on are refused by createPool, naming the limit', () => {
  const module = fixture('hostile.ts');
  assert.throws(() => createPool(module, { resourceLimits: 'small' as never }), { name: 'TypeError', message: /^options\.resourceLimits must be an object/ });
  assert.throws(() => createPool(module, { resourceLimits: { maxOldGenerationSizeMb: -1 } }), {
    name: 'RangeError',
    message: 'options.resourceLimits.maxOldGenerationSizeMb must be a positive number of MB (got -1)',
  });
  assert.throws(() => createPool(module, { resourceLimits: { maxOldGenerationSizeMb: '64' as never } }), { name: 'RangeError' });
  assert.throws(() => createPool(module, { resourceLimits: { maxOldSizeMb: 64 } as never }), /options\.resourceLimits\.maxOldSizeMb is not a limit/);
  // Limits on which Node would abort the whole process as the worker starts, not just fail the worker.
  assert.throws(() => createPool(module, { resourceLimits: { stackSizeMb: 0.1 } }), {
    name: 'RangeError',
    message: /^options\.resourceLimits\.stackSizeMb must be at least 1 MB/,
  });
  assert.throws(() => createPool(module, { resourceLimits: { codeRangeSizeMb: 1e9 } }), {
    name: 'RangeError',
    message: /^options\.resourceLimits\.codeRangeSizeMb must be at most 512 MB/,
  });
  createPool(module, { resourceLimits: { maxOldGenerationSizeMb: 64, stackSizeMb: 4 } }).destroy();
  createPool(module, { resourceLimits: { stackSizeMb: 1, codeRangeSizeMb: 512 } }).destroy();
});
