import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { capabilities, executors, poolOptions } from './helpers.js';

const run = promisify(execFile);

/** What each kind of call must end as, whatever else happens in the pool. */
const EXPECTED: Record<string, string> = {
  ok: 'value',
  fail: 'task error',
  slow: 'value',
  abort: 'aborted',
  timeout: 'timeout',
  stubborn: 'timeout',
  crash: 'exited',
};

/**
 * Calls per run, and how many of them must have killed a worker (about 0.7% do). Remote calls
 * each go through Redis on one slot, so a remote run is shorter.
 */
const SCALE = {
  thread: { calls: 20_000, minCrashes: 100 },
  process: { calls: 20_000, minCrashes: 100 },
  remote: { calls: 4_000, minCrashes: 12 },
} as const;

for (const executor of executors) {
  const { calls, minCrashes } = SCALE[executor];
  test(`chaos (${executor}): ${calls.toLocaleString('en-US')} mixed calls while workers die; each settles once, as its kind must; nothing is left`, async () => {
    // A separate process, so that "it exits by itself" proves no worker, timer or handle leaked.
    const options = JSON.stringify(poolOptions('chaos-tasks.mjs', executor, { size: 4, cancelGracePeriod: 50 }));
    const { stdout } = await run(process.execPath, [new URL('./fixtures/chaos-run.mjs', import.meta.url).pathname, executor, String(calls), options], {
      timeout: 240_000,
    });
    const summary = JSON.parse(stdout) as {
      calls: number;
      settled: number;
      outcomes: Record<string, number>;
      crashes: number;
      completed: number;
      failed: number;
      maxSize: number;
      sizeAfter: number;
      afterOk: boolean;
      report: unknown;
    };
    console.log(`chaos (${executor}):`, JSON.stringify(summary));
    assert.equal(summary.settled, summary.calls);
    assert.equal(summary.completed + summary.failed, summary.calls, 'the pool counted each call exactly once');
    let crashCalls = 0;
    for (const [key, count] of Object.entries(summary.outcomes)) {
      const [kind, outcome] = key.split(' -> ') as [string, string];
      assert.equal(outcome, EXPECTED[kind], `${count} × ${key}`);
      if (kind === 'crash') crashCalls = count;
    }
    assert.ok(crashCalls > minCrashes, 'workers were killed often');
    if (capabilities[executor].ownsWorkers) assert.equal(summary.crashes, crashCalls, 'every crash ended exactly one worker, and nothing else did');
    // The remote threads that died belong to the worker processes' own pools, which count them.
    else assert.equal(summary.crashes, 0, 'a remote pool counts no crash of workers it does not own');
    assert.ok(summary.maxSize <= 4, 'never more workers than configured');
    assert.equal(summary.sizeAfter, 4, 'the pool is whole again');
    assert.equal(summary.afterOk, true);
    assert.deepEqual(summary.report, { timedOut: false, cancelled: { queued: 0, running: 0 } });
  });
}
