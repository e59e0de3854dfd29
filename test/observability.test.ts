import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type * as Faults from './fixtures/faults.js';
import { capabilities, executors, fixture, poolFor, poolOptions, rejection } from './helpers.js';

const run = promisify(execFile);

for (const executor of executors) {
  describe(`observability (${executor})`, () => {
    test('events tell worker spawn and exit, and each task start, finish and failure, in order', async () => {
      const pool = poolFor<typeof Faults>('faults.ts', executor, { size: 1 });
      const events: string[] = [];
      pool.on('workerSpawned', ({ workerId }) => events.push(`spawned ${workerId}`));
      pool.on('workerExited', ({ workerId, expected }) => events.push(`exited ${workerId} ${expected ? 'expected' : 'crash'}`));
      pool.on('taskStarted', ({ name, workerId }) => events.push(`started ${name} on ${workerId}`));
      pool.on('taskFinished', ({ name }) => events.push(`finished ${name}`));
      pool.on('taskFailed', ({ name, code, error }) => events.push(`failed ${name} ${code} ${(error as Error).message}`));
      await pool.tasks.ok(1);
      await rejection(pool.tasks.fail('nope'));
      await rejection(pool.tasks.exitNow(2));
      await pool.close();
      assert.deepEqual(events, [
        'spawned 1',
        'started ok on 1',
        'finished ok',
        'started fail on 1',
        'failed fail task nope',
        'started exitNow on 1',
        'failed exitNow ERR_OFFLOAD_WORKER_EXITED The worker exited while running the task (exit code 2)',
        // A remote slot outlives the remote thread that died (the worker's own pool replaces
        // that), and ends when the pool closes.
        capabilities[executor].ownsWorkers ? 'exited 1 crash' : 'exited 1 expected',
      ]);
    });

    test('each call is announced started once, and its wait recorded once, though a worker that exited handed it back unstarted', async () => {
      const pool = poolFor<typeof Faults>('faults.ts', executor, { size: 1 });
      try {
        // Tiny calls deepen the worker's pipeline: calls then travel behind the one that ends the worker.
        await Promise.all(Array.from({ length: 1000 }, (_, i) => pool.tasks.ok(i)));
        const waitsBefore = pool.stats().waitTime.count;
        const started = new Map<number, number>();
        pool.on('taskStarted', ({ id }) => void started.set(id, (started.get(id) ?? 0) + 1));
        const calls: Promise<unknown>[] = [];
        for (let round = 0; round < 3; round++) {
          calls.push(pool.tasks.exitNow(3).catch((error: { code?: string }) => error.code));
          for (let i = 0; i < 20; i++) calls.push(pool.tasks.ok(i));
        }
        const outcomes = await Promise.all(calls);
        assert.equal(outcomes.filter((outcome) => outcome === 'ERR_OFFLOAD_WORKER_EXITED').length, 3);
        assert.equal(started.size, calls.length);
        assert.deepEqual([...started.values()].filter((count) => count > 1), [], 'no call announced twice');
        assert.equal(pool.stats().waitTime.count - waitsBefore, calls.length);
      } finally {
        await pool.close();
      }
    });

    test('a listener that throws surfaces as an uncaught exception and leaves the pool whole: every call settles, no worker stays busy', async () => {
      // In a process of its own: the test runner takes any uncaught exception as a failure.
      const options = poolOptions('faults.ts', executor, { size: 2 });
      const { stdout } = await run(process.execPath, ['--import', 'tsx', fileURLToPath(fixture('throwing-listeners.ts')), JSON.stringify(options)], { timeout: 30_000 });
      const report = JSON.parse(stdout) as { outcomes: unknown[]; busy: number; crashes: number; after: number; heard: Record<string, number>; uncaught: string[] };
      assert.deepEqual(report.outcomes, Array.from({ length: 12 }, (_, i) => (i % 4 === 3 ? `no ${i}` : i)));
      assert.equal(report.busy, 0);
      assert.equal(report.crashes, 0);
      assert.equal(report.after, 99);
      // The listeners after a throwing one hear every event: 13 calls started, 10 finished, 3 failed.
      assert.deepEqual({ ...report.heard, workerSpawned: report.heard.workerSpawned! > 0 }, { workerSpawned: true, taskStarted: 13, taskFinished: 10, taskFailed: 3 });
      assert.deepEqual(report.uncaught, ['taskFailed', 'taskFinished', 'taskStarted', 'workerSpawned'].map((event) => `${event} listener broke`));
    });

    test("a call made from an event listener waits for the pool's own bookkeeping: the counts stay whole", async () => {
      const pool = poolFor<typeof Faults>('faults.ts', executor, { size: 1 });
      try {
        await pool.warmup();
        // Made as the worker's answer is handled (the worker looks idle already), then as a task
        // is handed out: each waits for the end of the tick.
        for (const event of ['taskFinished', 'taskStarted'] as const) {
          let nested: Promise<number> | undefined;
          const listener = (): void => {
            nested ??= pool.tasks.ok(2);
          };
          pool.on(event, listener);
          assert.equal(await pool.tasks.ok(1), 1);
          pool.off(event, listener);
          assert.equal(await nested, 2);
          const stats = pool.stats();
          assert.equal(stats.busy, 0, `no worker counted busy after a call made from ${event}`);
          assert.equal(stats.idle, 1);
        }
        assert.equal(pool.stats().completed, 4);
        assert.equal(await pool.tasks.ok(4), 4);
      } finally {
        await pool.close();
      }
    });

    test('stats() has wait and run time percentiles, outcomes by code and per-worker utilisation', async () => {
      const pool = poolFor<typeof Faults>('faults.ts', executor, { size: 2 });
      try {
        await pool.warmup();
        await Promise.all(Array.from({ length: 8 }, () => pool.tasks.sleep(25)));
        await rejection(pool.tasks.fail('x'));
        await rejection(pool.tasks.sleep.with({ timeout: 1 })(50));
        const stats = pool.stats();
        // The timed-out task's own run may still be under way: 9 or 10 runs measured.
        assert.ok(stats.runTime.count === 9 || stats.runTime.count === 10, String(stats.runTime.count));
        assert.ok(stats.runTime.p50 >= 20 && stats.runTime.p50 <= 80, JSON.stringify(stats.runTime));
        assert.ok(stats.runTime.p90 >= stats.runTime.p50 && stats.runTime.p99 >= stats.runTime.p90);
        // Eight 25 ms tasks on two workers: the last ones waited about three task lengths.
        assert.ok(stats.waitTime.max >= 50, JSON.stringify(stats.waitTime));
        assert.deepEqual(stats.failures, { task: 1, ERR_OFFLOAD_TIMEOUT: 1 });
        assert.equal(stats.completed, 8);
        assert.equal(stats.failed, 2);
        assert.equal(stats.workers.length, 2);
        for (const worker of stats.workers) {
          assert.ok(worker.tasks >= 1);
          assert.ok(worker.busyTime >= 25);
          assert.ok(worker.utilization > 0 && worker.utilization <= 1);
        }
      } finally {
        await pool.close();
      }
    });
  });
}
