import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import { ClosedError } from '../src/index.js';
import type * as Faults from './fixtures/faults.js';
import type * as Memory from './fixtures/memory.js';
import { capabilities, executors, poolFor, rejection } from './helpers.js';

for (const executor of executors) {
  describe(`graceful shutdown (${executor})`, () => {
    test('close() without timeout drains everything, then reports nothing cancelled', async () => {
      const pool = poolFor<typeof Faults>('faults.ts', executor, { size: 2 });
      const work = Array.from({ length: 4 }, () => pool.tasks.sleep(30));
      const report = await pool.close();
      assert.deepEqual(await Promise.all(work), [30, 30, 30, 30]);
      assert.deepEqual(report, { timedOut: false, cancelled: { queued: 0, running: 0 } });
    });

    test('close({ timeout }) cancels what remains past the timeout and says what it cancelled', async () => {
      const pool = poolFor<typeof Faults>('faults.ts', executor, { size: 1 });
      await pool.warmup();
      const calls = [pool.tasks.stubbornSpin(20_000), pool.tasks.ok(1), pool.tasks.ok(2)].map(rejection);
      const report = await pool.close({ timeout: 100 });
      assert.deepEqual(report, { timedOut: true, cancelled: { queued: 2, running: 1 } });
      for (const call of calls) {
        const error = await call;
        assert.ok(error instanceof ClosedError);
        assert.equal(error.code, 'ERR_OFFLOAD_CLOSED');
      }
      assert.equal(pool.stats().size, 0);
    });

    // Not on remote: a remote slot holds one job at a time.
    if (capabilities[executor].ownsWorkers)
    test('close({ timeout }) counts as running every task a worker runs at once (concurrentTasksPerWorker)', async () => {
      const pool = poolFor<typeof Faults>('faults.ts', executor, { size: 1, concurrentTasksPerWorker: 3 });
      await pool.warmup();
      // Three overlap on the worker; the fourth waits for room.
      const calls = ['a', 'b', 'c', 'd'].map((label) => rejection(pool.tasks.waitForCancel(label)));
      assert.deepEqual(await pool.close({ timeout: 100 }), { timedOut: true, cancelled: { queued: 1, running: 3 } });
      for (const call of calls) assert.equal(((await call) as ClosedError).code, 'ERR_OFFLOAD_CLOSED');
    });

    test('close() refuses options of the wrong type (a bare number is not a timeout) and closes nothing', async () => {
      const pool = poolFor<typeof Faults>('faults.ts', executor, { size: 1 });
      assert.throws(() => pool.close(100 as never), { name: 'TypeError', message: 'close() options must be an object (got number)' });
      assert.throws(() => pool.close(null as never), { name: 'TypeError', message: 'close() options must be an object (got null)' });
      assert.throws(() => pool.close({ timeout: -1 }), { name: 'RangeError' });
      assert.equal(await pool.tasks.ok(1), 1);
      assert.deepEqual(await pool.close(), { timedOut: false, cancelled: { queued: 0, running: 0 } });
    });

    test('warmup() still waiting for its workers when destroy() ends them fails with ERR_OFFLOAD_CLOSED', async () => {
      const pool = poolFor<typeof Faults>('faults.ts', executor, { size: 2 });
      const warming = rejection(pool.warmup());
      // Its workers are starting (at once for threads; a process or remote pool loads its executor's code first).
      if (pool.stats().size === 0) await once(pool, 'workerSpawned');
      assert.ok(pool.stats().size > 0);
      await pool.destroy();
      const error = await warming;
      assert.ok(error instanceof ClosedError);
      assert.equal(error.code, 'ERR_OFFLOAD_CLOSED');
    });

    // Not on remote: a remote slot is ready once Redis answers, which may beat the timeout.
    if (capabilities[executor].ownsWorkers)
    test('warmup() still waiting for its workers when close({ timeout }) ends them fails with ERR_OFFLOAD_CLOSED', async () => {
      const pool = poolFor<typeof Faults>('faults.ts', executor, { size: 2 });
      const warming = rejection(pool.warmup());
      if (pool.stats().size === 0) await once(pool, 'workerSpawned');
      // The timeout ends the workers while they still load the module: no Ready will ever come.
      assert.deepEqual(await pool.close({ timeout: 0 }), { timedOut: true, cancelled: { queued: 0, running: 0 } });
      const error = await warming;
      assert.ok(error instanceof ClosedError);
      assert.equal(error.code, 'ERR_OFFLOAD_CLOSED');
    });

    test('close() settles when destroy() ends the pool before any worker started', async () => {
      const pool = poolFor<typeof Faults>('faults.ts', executor, { size: 1 });
      // Same tick: the call waits for its dispatch (and, off threads, for the executor's code).
      const call = rejection(pool.tasks.ok(1));
      const closing = pool.close();
      await pool.destroy();
      assert.deepEqual(await closing, { timedOut: false, cancelled: { queued: 0, running: 0 } });
      assert.equal(((await call) as ClosedError).code, 'ERR_OFFLOAD_CLOSED');
    });

    test('a taskFailed listener that destroys the pool as a queued call is aborted leaves the queue empty, and close() settles', async () => {
      const pool = poolFor<typeof Faults>('faults.ts', executor, { size: 1 });
      const destroyed: Array<Promise<void>> = [];
      pool.once('taskFailed', () => void destroyed.push(pool.destroy()));
      const controller = new AbortController();
      // No worker yet: the call waits in the queue when its signal fires, and the listener runs inside that failure.
      const call = rejection(pool.run('ok', [1], { signal: controller.signal }));
      controller.abort();
      assert.equal(((await call) as { code?: string }).code, 'ERR_OFFLOAD_ABORTED');
      assert.equal(destroyed.length, 1);
      assert.equal(pool.stats().queued, 0, 'the aborted call is counted out of the queue once');
      await destroyed[0];
      assert.deepEqual(await pool.close(), { timedOut: false, cancelled: { queued: 0, running: 0 } });
    });

    test('destroy() from a workerSpawned listener starts no further worker, for calls or for warmup()', async () => {
      for (const start of ['calls', 'warmup'] as const) {
        const pool = poolFor<typeof Faults>('faults.ts', executor, { size: 3 });
        let destroyed: Promise<void> | undefined;
        const spawnedAfter: number[] = [];
        pool.on('workerSpawned', ({ workerId }) => {
          if (destroyed === undefined) destroyed = pool.destroy();
          else spawnedAfter.push(workerId);
        });
        // Three calls on a cold pool, or warmup(), start three workers in one loop: the first one's event ends the pool.
        const started = start === 'calls' ? Array.from({ length: 3 }, () => rejection(pool.tasks.ok(1))) : [rejection(pool.warmup())];
        for (const outcome of started) assert.equal(((await outcome) as ClosedError).code, 'ERR_OFFLOAD_CLOSED', start);
        await destroyed;
        assert.deepEqual(spawnedAfter, [], `${start}: workers started after destroy()`);
        assert.equal(pool.stats().size, 0);
      }
    });

    // Not on remote: a remote worker's crash does not pause the pool's respawns.
    if (capabilities[executor].ownsWorkers)
    test("close({ timeout }) right after crashes starts no replacement: the respawn still pending is dropped", async () => {
      const pool = poolFor<typeof Faults>('faults.ts', executor, { size: 2 });
      let closing: Promise<unknown> | undefined;
      let crashes = 0;
      const spawnedAfter: number[] = [];
      pool.on('workerSpawned', ({ workerId }) => void (closing !== undefined && spawnedAfter.push(workerId)));
      pool.on('workerExited', ({ expected }) => {
        if (!expected && ++crashes === 2) closing = pool.close({ timeout: 0 });
      });
      // One worker stays busy, slow to report its exit once ended; the other crashes twice, so the
      // worker for the last call is to start after a pause, which close's timeout ends first.
      // (On a machine slow enough for the busy call to end first, nothing is left to test: it passes.)
      const calls = [pool.tasks.waitForChild(4000), pool.tasks.exitNow(3), pool.tasks.exitNow(3), pool.tasks.ok(1)];
      await Promise.allSettled(calls);
      assert.equal(crashes, 2);
      assert.equal((await closing as { timedOut: boolean }).timedOut, true);
      assert.deepEqual(spawnedAfter, [], 'workers started after close() timed out');
      assert.equal(pool.stats().size, 0);
    });

    // Not on remote: a remote slot holds one job at a time.
    if (capabilities[executor].ownsWorkers)
    test('destroy() from a taskStarted listener fails every call of the batch being handed out with ERR_OFFLOAD_CLOSED', async () => {
      const pool = poolFor<typeof Faults>('faults.ts', executor, { size: 1, concurrentTasksPerWorker: 3 });
      await pool.warmup();
      let destroyed: Promise<void> | undefined;
      let started = 0;
      pool.on('taskStarted', () => {
        if (++started === 2) destroyed = pool.destroy();
      });
      // The first call goes alone to the idle worker; the next two go to it together, and the first
      // of those ends the pool while the other is being handed out.
      const calls = Array.from({ length: 4 }, () => rejection(pool.tasks.sleep(200)));
      const codes = (await Promise.all(calls)).map((error) => (error as { code?: string }).code);
      assert.deepEqual(codes, Array.from({ length: 4 }, () => 'ERR_OFFLOAD_CLOSED'));
      await destroyed;
      assert.equal(pool.stats().crashes, 0);
    });

    if (capabilities[executor].ownsWorkers)
    test('destroy() from the taskFinished listener of a stream stopped back in the queue leaves the pool whole', async () => {
      const pool = poolFor<typeof Memory>('memory.ts', executor, { size: 1 });
      await pool.warmup();
      // Tiny calls first: the pool then sends a worker more than one call at a time.
      for (let round = 0; round < 5; round++) await Promise.all(Array.from({ length: 400 }, () => pool.tasks.echo(0)));
      let destroyed: Promise<void> | undefined;
      let stream: AsyncIterator<number> | undefined;
      pool.on('workerExited', () => void stream?.return?.());
      pool.on('taskFinished', ({ name }) => {
        if (name === 'count') destroyed = pool.destroy();
      });
      // The stream goes to the worker behind the call that ends it, announced started; the
      // worker's exit sends it back to the queue, where its consumer stops it.
      const crashed = rejection(pool.tasks.exitNow(3));
      stream = pool.stream('count', [3])[Symbol.asyncIterator]();
      const first = stream.next();
      assert.equal(((await crashed) as { code?: string }).code, 'ERR_OFFLOAD_WORKER_EXITED');
      await first.catch(() => undefined);
      await destroyed;
      assert.equal(pool.stats().queued, 0);
      const closed = await Promise.race([pool.close().then(() => 'settled'), new Promise((resolve) => setTimeout(resolve, 5000, 'close() still pending after 5 s'))]);
      assert.equal(closed, 'settled');
    });

    test('calls made while closing are refused with ERR_OFFLOAD_CLOSED', async () => {
      const pool = poolFor<typeof Faults>('faults.ts', executor, { size: 1 });
      const running = pool.tasks.sleep(50);
      const closing = pool.close();
      assert.equal(((await rejection(pool.tasks.ok(1))) as ClosedError).code, 'ERR_OFFLOAD_CLOSED');
      await running;
      await closing;
    });
  });
}

test('close() loses nothing a thread printed: lines still held in its stdout stream reach the main thread before the thread ends', async () => {
  // A fresh process whose stdout stalls for 500 ms without blocking its event loop (as a slow
  // pipe or terminal does), so the thread's last line is still in its stream when close() runs.
  const script = `
    import { createPool } from 'offload';
    const write = process.stdout.write.bind(process.stdout);
    let held = [];
    process.stdout.write = (chunk, encoding, callback) => {
      if (held === undefined) return write(chunk, encoding, callback);
      held.push([chunk, encoding, callback]);
      return false;
    };
    setTimeout(() => {
      for (const [chunk, encoding, callback] of held) write(chunk, encoding, callback);
      held = undefined;
      process.stdout.emit('drain');
    }, 500);
    const pool = createPool(new URL('./test/fixtures/late-output.mjs', import.meta.url), { size: 1 });
    const result = await pool.run('printsAfterBacklog', []);
    await pool.close();
    console.error(result);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: new URL('..', import.meta.url), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const [code] = (await once(child, 'close')) as [number | null];
  assert.equal(code, 0, stderr);
  assert.equal(stderr.trim(), 'returned');
  assert.deepEqual(stdout.split('\n').map((line) => line.slice(0, 10)), ['a'.repeat(10), 'b'.repeat(10), 'LAST LINE', '']);
});
