/**
 * A cold thread pool hands its first call to the thread it starts for it, with the spawn: the
 * call runs as soon as the thread's module has loaded, without waiting for the thread to report
 * ready and for the pool to answer. Until the thread starts it the call still waits, as far as
 * the pool is concerned: it can be cancelled without running, a call of higher priority takes its
 * place, and a thread ready sooner takes it.
 * (Threads only: the hand-off is revocable through shared memory, which a process does not have.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AbortError } from '../src/index.js';
import type * as FirstCall from './fixtures/first-call.js';
import { poolFor } from './helpers.js';

const endOfTick = async (): Promise<void> => {
  // The cold pool spawns its thread when it dispatches, at the end of the tick of the call.
  for (let i = 0; i < 3; i++) await Promise.resolve();
};

test('the first call runs on its new thread while the main thread is blocked: it went with the spawn', async () => {
  const pool = poolFor<typeof FirstCall>('first-call.ts', 'thread', { size: 1 });
  try {
    const cell = new Int32Array(new SharedArrayBuffer(4));
    const call = pool.tasks.signal(cell);
    await endOfTick();
    // The main thread's event loop is blocked from here on: it cannot hear the thread's ready
    // message nor send it anything. Only a call already in the thread's port can run.
    const woken = Atomics.wait(cell, 0, 0, 20_000);
    assert.equal(woken, 'ok');
    assert.equal(await call, 1);
    assert.equal(pool.stats().completed, 1);
  } finally {
    await pool.close();
  }
});

test('a first call cancelled while its thread starts fails at once, never runs, and the thread lives on', async () => {
  const pool = poolFor<typeof FirstCall>('first-call.ts', 'thread', { size: 1 });
  try {
    const cell = new Int32Array(new SharedArrayBuffer(4));
    const controller = new AbortController();
    const call = pool.run('count', [cell], { signal: controller.signal });
    await endOfTick();
    assert.equal(pool.stats().size, 1, 'the thread is starting');
    controller.abort();
    await assert.rejects(call, AbortError);
    const deadline = pool.run('count', [cell], { timeout: 1 });
    await assert.rejects(deadline, { code: 'ERR_OFFLOAD_TIMEOUT' });
    // The thread's next call is the first it runs: neither cancelled call ran before it.
    assert.equal(await pool.tasks.whoAmI(), 1);
    assert.equal(Atomics.load(cell, 0), 0);
    const stats = pool.stats();
    assert.equal(stats.crashes, 0);
    assert.equal(stats.queued, 0);
    assert.equal(stats.busy, 0);
  } finally {
    await pool.close();
  }
});

test('while its thread starts, a first call waits in the queue as far as maxQueue is concerned', async () => {
  const pool = poolFor<typeof FirstCall>('first-call.ts', 'thread', { size: 1, maxQueue: 0 });
  try {
    const first = pool.tasks.whoAmI();
    await endOfTick();
    assert.equal(pool.stats().queued, 1);
    // One worker, no queue: the second call is shed, as it was before the thread took the first.
    await assert.rejects(pool.run('whoAmI', []), { code: 'ERR_OFFLOAD_QUEUE_FULL' });
    assert.equal(await first, 1);
  } finally {
    await pool.close();
  }
});

test('a call of higher priority made while the thread starts runs before the first call it was handed', async () => {
  const pool = poolFor<typeof FirstCall>('first-call.ts', 'thread', { size: 1 });
  try {
    const low = pool.run('order', ['low']);
    await endOfTick();
    assert.equal(pool.stats().size, 1, 'the thread is starting, holding the first call');
    const high = pool.run('order', ['high'], { priority: 5 });
    assert.deepEqual(await high, ['high']);
    assert.deepEqual(await low, ['high', 'low']);
  } finally {
    await pool.close();
  }
});

test('a thread ready sooner takes the call handed to a thread still loading its module', async () => {
  // Worker 2 loads for 20 s: the test can only finish in time if worker 1 runs both calls.
  process.env.FIRST_CALL_SLOW_LOAD_MS = '20000';
  const pool = poolFor<typeof FirstCall>('first-call.ts', 'thread', { size: 2 });
  try {
    const cell = new Int32Array(new SharedArrayBuffer(4));
    const ran = await Promise.all([pool.run('count', [cell]), pool.run('count', [cell])]);
    assert.deepEqual(ran, [1, 1]);
    assert.equal(pool.stats().size, 2, 'both threads were started, one per call');
    assert.equal(Atomics.load(cell, 0), 2);
  } finally {
    delete process.env.FIRST_CALL_SLOW_LOAD_MS;
    await pool.destroy();
  }
});
