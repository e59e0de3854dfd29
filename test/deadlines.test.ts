import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { AbortError, TimeoutError } from '../src/index.js';
import type * as Faults from './fixtures/faults.js';
import { capabilities, executors, poolFor, rejection, warningsDuring } from './helpers.js';

for (const executor of executors) {
  describe(`deadlines and cancellation (${executor})`, () => {
    const pool = poolFor<typeof Faults>('faults.ts', executor, { size: 1, cancelGracePeriod: 200 });
    after(() => pool.close());

    test('a queued task that times out leaves the queue at once and never runs', async () => {
      await pool.warmup();
      const blocker = pool.tasks.sleep(300);
      const queued = pool.tasks.countRuns.with({ timeout: 50 })();
      const error = await rejection(queued);
      assert.ok(error instanceof TimeoutError);
      assert.equal(error.code, 'ERR_OFFLOAD_TIMEOUT');
      assert.equal(pool.stats().queued, 0, 'it left the queue before the blocker finished');
      await blocker;
      assert.equal(await pool.tasks.countRuns(), 1, 'the timed-out task never ran');
    });

    test('a queued task aborted by its signal fails with the reason as cause, and never runs', async () => {
      const blocker = pool.tasks.sleep(200);
      const controller = new AbortController();
      const queued = pool.run('countRuns', [], { signal: controller.signal });
      controller.abort(new Error('client went away'));
      const error = await rejection(queued);
      assert.ok(error instanceof AbortError);
      assert.equal(error.code, 'ERR_OFFLOAD_ABORTED');
      assert.equal((error.cause as Error).message, 'client went away');
      await blocker;
      const runs = await pool.tasks.countRuns();
      assert.equal(await pool.tasks.countRuns(), runs + 1);
    });

    test('one signal shared by many calls (a request fanning out) holds one listener, warns of no leak, and aborts every call still waiting', async () => {
      const warnings = await warningsDuring(async () => {
        const controller = new AbortController();
        const { signal } = controller;
        const done = await Promise.all(Array.from({ length: 30 }, (_, i) => pool.run('ok', [i], { signal })));
        assert.deepEqual(done, Array.from({ length: 30 }, (_, i) => i));
        const blocker = pool.tasks.sleep(100);
        const waiting = Array.from({ length: 30 }, () => rejection(pool.run('countRuns', [], { signal })));
        controller.abort(new Error('client went away'));
        for (const error of await Promise.all(waiting)) assert.ok(error instanceof AbortError);
        await blocker;
      });
      assert.deepEqual(warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning'), []);
      assert.equal(pool.stats().queued, 0);
    });

    test('an already aborted signal is refused at once', async () => {
      const error = await rejection(pool.run('ok', [1], { signal: AbortSignal.abort('late') }));
      assert.equal((error as AbortError).code, 'ERR_OFFLOAD_ABORTED');
      assert.equal((error as AbortError).cause, 'late');
    });

    test('a running synchronous loop sees isCancelled() and stops cleanly; the worker survives', async () => {
      const spawned: number[] = [];
      pool.on('workerSpawned', ({ workerId }) => spawned.push(workerId));
      const error = await rejection(pool.tasks.cooperativeSpin.with({ timeout: 100 })('sync-loop', 10_000));
      assert.ok(error instanceof TimeoutError);
      const log = await pool.tasks.cancelLog();
      assert.ok(log.includes('sync-loop stopped'), JSON.stringify(log));
      assert.deepEqual(spawned, [], 'no worker had to be replaced');
    });

    test("a running async task's taskSignal() fires on abort", async () => {
      const controller = new AbortController();
      const running = pool.tasks.waitForCancel.with({ signal: controller.signal })('async-task');
      await new Promise((resolve) => setTimeout(resolve, 50));
      controller.abort();
      assert.equal(((await rejection(running)) as AbortError).code, 'ERR_OFFLOAD_ABORTED');
      const log = await pool.tasks.cancelLog();
      assert.ok(log.includes('async-task aborted: ERR_OFFLOAD_ABORTED'), JSON.stringify(log));
    });

    test('a running task that ignores cancellation is ended after the grace period and its worker replaced; the caller is not kept waiting', async () => {
      const events: string[] = [];
      const onExit = ({ expected }: { expected: boolean }) => events.push(`exited expected=${expected}`);
      const onSpawn = () => events.push('spawned');
      pool.on('workerExited', onExit);
      pool.on('workerSpawned', onSpawn);
      try {
        const stubborn = pool.tasks.stubbornSpin.with({ timeout: 100 })(30_000);
        const behind = pool.tasks.ok(7); // queued behind it: must still complete
        const error = await rejection(stubborn);
        assert.ok(error instanceof TimeoutError);
        // Rejected at the deadline, before the grace period ended the worker.
        assert.deepEqual(events, []);
        assert.equal(await behind, 7);
        // A remote worker answers the cancellation at once and ends its own thread after the
        // grace period (remote tests): the pool's slot is never at fault, so nothing is replaced here.
        assert.deepEqual(events, capabilities[executor].ownsWorkers ? ['exited expected=true', 'spawned'] : []);
        assert.equal(await pool.tasks.ok(8), 8);
      } finally {
        pool.off('workerExited', onExit);
        pool.off('workerSpawned', onSpawn);
      }
    });

    test('priority: higher first, then call order', async () => {
      const blocker = pool.tasks.sleep(100);
      const order: string[] = [];
      const calls = [
        pool.run('ok', [1], { priority: 0 }).then(() => order.push('low-1')),
        pool.run('ok', [2], { priority: 5 }).then(() => order.push('high-1')),
        pool.run('ok', [3], { priority: 0 }).then(() => order.push('low-2')),
        pool.run('ok', [4], { priority: 5 }).then(() => order.push('high-2')),
        pool.run('ok', [5], { priority: -1 }).then(() => order.push('lowest')),
      ];
      await Promise.all([blocker, ...calls]);
      assert.deepEqual(order, ['high-1', 'high-2', 'low-1', 'low-2', 'lowest']);
    });

    test('a call that finds the worker idle starts at once; the calls made after it wait in priority order', async () => {
      await pool.tasks.ok(0); // the task kinds are known: calls go straight to the queue
      const order: string[] = [];
      const calls = [
        pool.run('ok', [1], { priority: 0 }).then(() => order.push('first, low')),
        pool.run('ok', [2], { priority: 0 }).then(() => order.push('low')),
        pool.run('ok', [3], { priority: 5 }).then(() => order.push('high')),
      ];
      await Promise.all(calls);
      assert.deepEqual(order, ['first, low', 'high', 'low']);
    });

    test('bad call options are refused with the option named', async () => {
      await assert.rejects(pool.run('ok', [1], { timeout: -5 }), /options\.timeout/);
      await assert.rejects(pool.run('ok', [1], { priority: 1.5 }), /options\.priority/);
      await assert.rejects(pool.run('ok', [1], { signal: {} as AbortSignal }), /options\.signal/);
    });
  });
}
