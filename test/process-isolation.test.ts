/**
 * What only a process survives: a worker that dies natively (abort, SIGSEGV, SIGKILL) or exhausts
 * its own heap fails its task with ERR_OFFLOAD_WORKER_EXITED naming the signal; the pool lives on
 * and every other call completes. (Exits and uncaught errors, which threads survive too, are in
 * the shared crash-isolation suite.) The crashes print native stack traces on stderr, under the
 * pool name `expected-crash`.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { WorkerExitedError } from '../src/index.js';
import type * as Tasks from './fixtures/process-tasks.js';
import { poolFor, rejection } from './helpers.js';

describe('native crash isolation (process)', () => {
  const pool = poolFor<typeof Tasks>('process-tasks.ts', 'process', { size: 2, name: 'expected-crash' });
  after(() => pool.close());

  /** Runs a crashing task beside a healthy one on the other worker; returns the crash's error. */
  async function crashBeside(crash: Promise<unknown>): Promise<WorkerExitedError> {
    const healthy = pool.tasks.slowPid(300);
    const [crashed, survived] = await Promise.allSettled([crash, healthy]);
    assert.equal(survived.status, 'fulfilled', 'the task on the other worker completes');
    assert.equal(crashed.status, 'rejected');
    const error = (crashed as PromiseRejectedResult).reason;
    assert.ok(error instanceof WorkerExitedError, String(error));
    assert.equal(error.code, 'ERR_OFFLOAD_WORKER_EXITED');
    // The pool lives on: a new worker takes the next call.
    assert.equal(typeof (await pool.tasks.pid()), 'number');
    return error;
  }

  test('process.abort() fails the task with signal SIGABRT', async () => {
    await pool.warmup();
    const error = await crashBeside(pool.tasks.abort());
    assert.equal(error.signal, 'SIGABRT');
    assert.equal(error.exitCode, null);
    assert.match(error.message, /signal SIGABRT/);
  });

  test('a SIGSEGV fails the task with signal SIGSEGV', async () => {
    const error = await crashBeside(pool.tasks.segfault());
    assert.equal(error.signal, 'SIGSEGV');
    assert.match(error.message, /signal SIGSEGV/);
  });

  test('a SIGKILL fails the task with signal SIGKILL', async () => {
    const error = await crashBeside(pool.tasks.killSelf());
    assert.equal(error.signal, 'SIGKILL');
  });

});

describe('heap limit (process)', () => {
  test('a task that exhausts maxOldSpaceSizeMb fails with out of memory; the pool lives on', async () => {
    const pool = poolFor<typeof Tasks>('process-tasks.ts', 'process', { size: 1, name: 'expected-crash', maxOldSpaceSizeMb: 32 });
    try {
      const limit = await pool.tasks.heapLimitMb();
      assert.ok(limit >= 32 && limit < 128, `heap limit ${limit} MB`);
      const error = await rejection(pool.tasks.exhaustHeap());
      assert.ok(error instanceof WorkerExitedError, String(error));
      assert.equal(error.code, 'ERR_OFFLOAD_WORKER_EXITED');
      assert.equal(error.signal, 'SIGABRT');
      assert.match(error.message, /signal SIGABRT: out of memory/);
      assert.equal(typeof (await pool.tasks.pid()), 'number');
    } finally {
      await pool.close();
    }
  });
});
