import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { AbortError, StreamStalledError, TimeoutError, WorkerExitedError } from '../src/index.js';
import type * as Streams from './fixtures/streams.js';
import { collect, executors, poolFor, rejection } from './helpers.js';

const scratch = mkdtempSync(join(tmpdir(), 'offload-streams-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let files = 0;
const scratchFile = (): string => join(scratch, `file-${++files}`);
const readMarker = (file: string): string => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
};

for (const executor of executors) {
  describe(`streams (${executor})`, () => {
    const pool = poolFor<typeof Streams>('streams.ts', executor, { size: 1, cancelGracePeriod: 300 });
    after(() => pool.close());

    test('the typed handle of a generator task is an async iterable: every item, in order, even on a fresh pool', async () => {
      const items: number[] = [];
      for await (const item of pool.tasks.count(1000)) items.push(item);
      assert.deepEqual(items, Array.from({ length: 1000 }, (_, i) => i));
      // Once the pool knows the task kinds, the handle returns the stream directly.
      assert.equal((await collect(pool.tasks.count(5))).length, 5);
      assert.deepEqual(await collect(pool.stream('slowAsync', [3, 5])), [{ index: 0 }, { index: 1 }, { index: 2 }]);
    });

    test('on a fresh pool, a refused first call iterated with for-await throws the refusal itself, and nothing goes unhandled', async () => {
      const unhandled: unknown[] = [];
      const listener = (reason: unknown): void => void unhandled.push(reason);
      process.on('unhandledRejection', listener);
      const fresh = poolFor<typeof Streams>('streams.ts', executor, { size: 1 });
      try {
        await fresh.close();
        const error = await rejection(collect(fresh.tasks.count(3)));
        assert.equal((error as { code?: string }).code, 'ERR_OFFLOAD_CLOSED', String(error));
        // The same refusal awaited as a plain call.
        assert.equal(((await rejection(fresh.tasks.plain())) as { code?: string }).code, 'ERR_OFFLOAD_CLOSED');
        await new Promise((resolve) => setImmediate(resolve));
        assert.deepEqual(unhandled, []);
      } finally {
        process.off('unhandledRejection', listener);
      }
    });

    test('a plain task on a fresh pool still returns a promise that runs even if nobody awaits it', async () => {
      const fresh = poolFor<typeof Streams>('streams.ts', executor, { size: 1 });
      try {
        assert.equal(await fresh.tasks.plain(), 1);
      } finally {
        await fresh.close();
      }
    });

    test('with a slow consumer the generator never runs more than highWaterMark items ahead', async () => {
      const counter = scratchFile();
      let consumed = 0;
      let maxAhead = 0;
      for await (const item of pool.stream('tracked', [300, counter], { highWaterMark: 16 })) {
        assert.equal(item, consumed);
        consumed++;
        const produced = Number(readMarker(counter));
        maxAhead = Math.max(maxAhead, produced - consumed);
        assert.ok(produced - consumed <= 16, `produced ${produced}, consumed ${consumed}`);
        if (consumed % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(consumed, 300);
      assert.ok(maxAhead >= 8, `the worker did run ahead within its credit (${maxAhead})`);
    });

    test("break ends the generator in the worker (its finally runs) and frees the worker", async () => {
      for (const task of ['endless', 'endlessAsync'] as const) {
        const marker = scratchFile();
        let seen = 0;
        for await (const item of pool.stream(task, [marker])) {
          if (++seen === 5) break;
          assert.equal(typeof item, 'number');
        }
        assert.equal(await pool.tasks.plain(), 1, 'the worker is free for the next task');
        assert.equal(readMarker(marker), 'finally ran\n');
      }
    });

    test('a throw in the for-await body also ends the generator', async () => {
      const marker = scratchFile();
      await assert.rejects(async () => {
        for await (const item of pool.stream('endless', [marker])) if (item === 3) throw new Error('consumer failed');
      }, /consumer failed/);
      assert.equal(await pool.tasks.plain(), 1);
      assert.equal(readMarker(marker), 'finally ran\n');
    });

    test('abort and timeout mid-stream reject the iteration and end the generator', async () => {
      const marker = scratchFile();
      const controller = new AbortController();
      const aborted = rejection(
        (async () => {
          for await (const item of pool.stream('endlessAsync', [marker], { signal: controller.signal })) {
            if (item === 3) controller.abort(new Error('enough'));
          }
        })(),
      );
      const error = await aborted;
      assert.ok(error instanceof AbortError);
      assert.equal((error.cause as Error).message, 'enough');
      assert.equal(await pool.tasks.plain(), 1);
      assert.equal(readMarker(marker), 'finally ran\n');

      const timedOut = await rejection(collect(pool.stream('endlessAsync', [scratchFile()], { timeout: 50 })));
      assert.ok(timedOut instanceof TimeoutError);
    });

    test('a consumer that takes nothing for stallTimeout loses the stream (ERR_OFFLOAD_STALLED); the generator ends, the worker is free', async () => {
      const marker = scratchFile();
      const stream = pool.stream('endlessAsync', [marker], { highWaterMark: 8, stallTimeout: 100 });
      assert.deepEqual(await stream.next(), { value: 0, done: false });
      const failed = new Promise<unknown>((resolve) => stream.signal.addEventListener('abort', () => resolve(stream.signal.reason)));
      assert.ok(await failed instanceof StreamStalledError);
      assert.equal(await pool.tasks.plain(), 1);
      assert.ok(await rejection(stream.next()) instanceof StreamStalledError);
      for (let waited = 0; readMarker(marker) === '' && waited < 5000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(readMarker(marker), 'finally ran\n');
    });

    test('an error thrown mid-stream reaches for-await after the items before it, with its class', async () => {
      const items: number[] = [];
      const error = await rejection(
        (async () => {
          for await (const item of pool.stream('failsAt', [5])) items.push(item);
        })(),
      );
      assert.deepEqual(items, [0, 1, 2, 3, 4]);
      assert.ok(error instanceof RangeError);
      assert.equal(error.message, 'no item 5');
    });

    test('a worker that exits mid-stream fails the iteration with ERR_OFFLOAD_WORKER_EXITED; nothing hangs', async () => {
      const error = await rejection(collect(pool.stream('exitsAt', [10])));
      assert.ok(error instanceof WorkerExitedError);
      assert.equal(error.exitCode, 9);
      assert.equal(await pool.tasks.plain(), 1);
    });

    test('an item that cannot be sent fails the stream once; the worker lives on', async () => {
      const crashes = pool.stats().crashes;
      await rejection(collect(pool.stream('yieldsFunction', [])));
      assert.equal(await pool.tasks.plain(), 1);
      await new Promise((resolve) => setTimeout(resolve, 50)); // time for a stray second failure to end the worker
      assert.equal(pool.stats().crashes, crashes);
      assert.equal(await pool.tasks.plain(), 1);
    });

    test('yielded transfer(buffer) values move without copying', async () => {
      const received = await collect(pool.stream('chunks', [4, 1024]));
      assert.deepEqual(received.map((chunk) => [chunk.byteLength, chunk[0]]), [[1024, 0], [1024, 1], [1024, 2], [1024, 3]]);
      assert.equal(await pool.tasks.chunksDetached(), true);
    });

    test('progress values arrive in order, throttled, with the last one always delivered', async () => {
      const seen: Array<{ done: number; of: number }> = [];
      const result = await pool.run('withProgress', [200_000], { onProgress: (value) => seen.push(value as { done: number; of: number }) });
      assert.equal(result, 'finished');
      assert.ok(seen.length >= 1 && seen.length < 1000, `throttled: ${seen.length} messages for 200,000 calls`);
      assert.deepEqual(seen.at(-1), { done: 200_000, of: 200_000 });
      seen.forEach((value, i) => i > 0 && assert.ok(value.done > seen[i - 1]!.done));

      // An async task reporting every 10 ms: throttling may merge values, never reorder or lose the last.
      const steps: number[] = [];
      await pool.tasks.withProgressAsync.with({ onProgress: (value) => steps.push(value as number) })(5);
      assert.equal(steps[0], 1);
      assert.equal(steps.at(-1), 5);
      assert.deepEqual(steps, [...steps].sort((a, b) => a - b));
    });

    test('an onProgress callback that throws fails its own call with that error and stops the task; nothing goes uncaught', async () => {
      const uncaught: unknown[] = [];
      const listener = (error: unknown): void => void uncaught.push(error);
      process.on('uncaughtException', listener);
      try {
        const marker = scratchFile();
        const broken = new Error('the progress bar broke');
        const seen: unknown[] = [];
        const error = await rejection(
          pool.run('progressUntilCancelled', [marker], {
            onProgress: (value) => {
              seen.push(value);
              if (seen.length === 3) throw broken;
            },
          }),
        );
        assert.equal(error, broken);
        assert.equal(seen.length, 3, 'no progress reaches a call that has failed');
        // The worker saw the cancellation and the pool goes on.
        for (let i = 0; i < 200 && readMarker(marker) === ''; i++) await new Promise((resolve) => setTimeout(resolve, 10));
        assert.match(readMarker(marker), /^cancelled after \d+$/);
        assert.equal(await pool.tasks.plain(), 1);
        assert.deepEqual(uncaught, []);
      } finally {
        process.off('uncaughtException', listener);
      }
    });

    test('an async onProgress callback that rejects fails its own call with that rejection and stops the task; nothing goes unhandled', async () => {
      const unhandled: unknown[] = [];
      const listener = (reason: unknown): void => void unhandled.push(reason);
      process.on('unhandledRejection', listener);
      try {
        const marker = scratchFile();
        const broken = new Error('the async progress bar broke');
        let seen = 0;
        const error = await rejection(
          pool.run('progressUntilCancelled', [marker], {
            onProgress: async () => {
              if (++seen === 2) throw broken;
            },
          }),
        );
        assert.equal(error, broken);
        for (let i = 0; i < 200 && readMarker(marker) === ''; i++) await new Promise((resolve) => setTimeout(resolve, 10));
        assert.match(readMarker(marker), /^cancelled after \d+$/);
        assert.equal(await pool.tasks.plain(), 1);
        await new Promise((resolve) => setImmediate(resolve));
        assert.deepEqual(unhandled, []);
      } finally {
        process.off('unhandledRejection', listener);
      }
    });

    test('a stream declined before its first pull never runs: next() after return() answers done and queues nothing', async () => {
      const counter = scratchFile();
      const stream = pool.stream('tracked', [1000, counter], { highWaterMark: 8 });
      assert.deepEqual(await stream.return(), { value: undefined, done: true });
      assert.deepEqual(await stream.next(), { value: undefined, done: true });
      // Had next() queued the generator, it would hold the only worker, waiting for credit.
      assert.equal(await pool.run('plain', [], { timeout: 10_000 }), 1);
      assert.equal(readMarker(counter), '', 'the generator never started');
    });

    test('on a fresh pool, a first call iterated and then declined before any pull withdraws its task', async () => {
      const fresh = poolFor<typeof Streams>('streams.ts', executor, { size: 1 });
      try {
        const counter = scratchFile();
        const iterator = fresh.tasks.tracked(1000, counter)[Symbol.asyncIterator]();
        assert.deepEqual(await iterator.return!(), { value: undefined, done: true });
        assert.equal(await fresh.run('plain', [], { timeout: 10_000 }), 1, 'the worker is free');
        assert.equal(readMarker(counter), '', 'the withdrawn generator never ran');
        assert.equal(fresh.stats().busy, 0);
      } finally {
        await fresh.close();
      }
    });

    test('on a fresh pool, a first call cancelled in the tick it is made, then iterated, throws its cancellation', async () => {
      const fresh = poolFor<typeof Streams>('streams.ts', executor, { size: 1 });
      try {
        const counter = scratchFile();
        const controller = new AbortController();
        const call = fresh.tasks.tracked.with({ signal: controller.signal })(1000, counter);
        controller.abort();
        const error = await rejection(collect(call));
        assert.ok(error instanceof AbortError, String(error));
        assert.equal(await fresh.run('plain', [], { timeout: 10_000 }), 1);
        assert.equal(readMarker(counter), '', 'the cancelled generator never ran');
      } finally {
        await fresh.close();
      }
    });

    test('on a fresh pool, a first call iterated but never pulled stalls like any unread stream: the worker is freed', async () => {
      const fresh = poolFor<typeof Streams>('streams.ts', executor, { size: 1, stallTimeout: 100 });
      try {
        const marker = scratchFile();
        // Queued when called (its kind was not known yet), so its generator runs ahead to its credit.
        const iterator = fresh.tasks.endlessAsync(marker)[Symbol.asyncIterator]();
        assert.equal(await fresh.run('plain', [], { timeout: 10_000 }), 1, 'the stalled stream gave its worker up');
        assert.ok(await rejection(iterator.next()) instanceof StreamStalledError);
        for (let waited = 0; readMarker(marker) === '' && waited < 5000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
        assert.equal(readMarker(marker), 'finally ran\n');
      } finally {
        await fresh.close();
      }
    });

    test('a failed stream the consumer declines answers done afterwards; its signal, read late, still tells the failure', async () => {
      const controller = new AbortController();
      const stream = pool.stream('endlessAsync', [scratchFile()], { highWaterMark: 8, signal: controller.signal });
      assert.deepEqual(await stream.next(), { value: 0, done: false });
      controller.abort(new Error('enough'));
      await stream.return();
      assert.deepEqual(await stream.next(), { value: undefined, done: true });
      assert.ok(stream.signal.aborted, 'the stream did fail');
      assert.ok(stream.signal.reason instanceof AbortError);

      // Read only after the consumer took the error.
      const timedOut = pool.stream('endlessAsync', [scratchFile()], { timeout: 50 });
      assert.ok(await rejection(collect(timedOut)) instanceof TimeoutError);
      assert.ok(timedOut.signal.aborted);
      assert.ok(timedOut.signal.reason instanceof TimeoutError);
      assert.equal(await pool.tasks.plain(), 1);
    });

    test('misuse is refused clearly: running a generator task, or streaming a plain one', async () => {
      const error = await rejection(pool.run('count' as 'plain', []));
      assert.ok(error instanceof TypeError);
      assert.match(error.message, /generator task/);
      const notStream = await rejection(collect(pool.stream('plain' as 'count', [1])));
      assert.ok(notStream instanceof TypeError);
      assert.match(notStream.message, /not a generator task/);
      assert.throws(() => pool.stream('count', [1], { highWaterMark: 0 }), /highWaterMark/);
    });
  });
}
