/**
 * Memory is bounded by work in flight: what a call held (its arguments, its place in the queue,
 * its handle, a worker's note of its cancel) is freed once it has settled, even when no other
 * call comes to sweep it up. Shared by every executor.
 */
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { after, before, describe, test } from 'node:test';
import type { Pool, RunOptions } from '../src/index.js';
import { EarlyCancels } from '../src/worker/early-cancels.js';
import type * as Memory from './fixtures/memory.js';
import { capabilities, executors, poolFor } from './helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Collects until nothing is left to collect: finalizers and weak references run between rounds. */
async function collect(): Promise<void> {
  for (let round = 0; round < 4; round++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** What a queued call keeps a reference to, by the options it is made with. */
type Shape = (index: number) => RunOptions;

const SHAPES: Record<string, Shape> = {
  'one priority': () => ({}),
  'a priority each': (index) => ({ priority: -1 - index }),
  'one key (waiting in its lane)': () => ({ key: 'k' }),
};

/**
 * Makes 20 calls, each with an argument of its own, and aborts them: not an async function, whose
 * frame could keep the last argument alive across its awaits.
 */
function callAndAbort(pool: Pool<typeof Memory>, optionsOf: Shape): { refs: Array<WeakRef<object>>; calls: Array<Promise<unknown>> } {
  const refs: Array<WeakRef<object>> = [];
  const calls: Array<Promise<unknown>> = [];
  const controllers: AbortController[] = [];
  for (let index = 0; index < 20; index++) {
    const argument = { payload: new Uint8Array(1024) };
    refs.push(new WeakRef(argument));
    const controller = new AbortController();
    controllers.push(controller);
    calls.push(pool.run('echo', [argument], { ...optionsOf(index), signal: controller.signal }).catch((error: unknown) => error));
  }
  for (const controller of controllers) controller.abort();
  return { refs, calls };
}

for (const executor of executors) {
  describe(`what a settled call held is freed (${executor})`, () => {
    let pool: Pool<typeof Memory>;
    before(() => {
      pool = poolFor<typeof Memory>('memory.ts', executor, { size: 1 });
    });
    after(() => pool.close());

    for (const [shape, optionsOf] of Object.entries(SHAPES)) {
      // Keys are refused by name where the pool does not own its workers (see key-affinity.test.ts).
      if (optionsOf(0).key !== undefined && !capabilities[executor].ownsWorkers) continue;
      test(`calls aborted while queued let go of their arguments at once, with no call after them (${shape})`, async () => {
        await pool.warmup();
        // The worker is held, and the key too (keyed calls then wait in the key's lane).
        const holding = pool.run('sleep', [300], optionsOf(0).key === undefined ? {} : { key: 'k' });
        const { refs, calls } = callAndAbort(pool, optionsOf);
        const outcomes = await Promise.all(calls);
        assert.ok(outcomes.every((outcome) => (outcome as { code?: unknown }).code === 'ERR_OFFLOAD_ABORTED'));
        await holding;
        assert.equal(pool.stats().queued, 0);
        await collect();
        assert.deepEqual(refs.flatMap((ref, index) => (ref.deref() === undefined ? [] : [index])), [], "arguments still held by the pool");
      });
    }

    test('a stream its consumer ends early is announced finished, as it was announced started', async () => {
      const started = new Set<number>();
      const ended = new Set<number>();
      const onStarted = ({ id }: { id: number }): void => void started.add(id);
      const onEnded = ({ id }: { id: number }): void => void ended.add(id);
      pool.on('taskStarted', onStarted);
      pool.on('taskFinished', onEnded);
      pool.on('taskFailed', onEnded);
      try {
        for (let round = 0; round < 3; round++) {
          for await (const item of pool.stream('count', [1000])) if (item === 1) break;
        }
        await pool.run('echo', [0]);
        assert.equal(started.size, 4);
        assert.deepEqual([...started].filter((id) => !ended.has(id)), [], 'started, never finished nor failed');
      } finally {
        pool.off('taskStarted', onStarted);
        pool.off('taskFinished', onEnded);
        pool.off('taskFailed', onEnded);
      }
    });
  });
}

test('pool.tasks keeps no handle nobody holds: names read once, unknown ones included, are not kept', async () => {
  const pool = poolFor<typeof Memory>('memory.ts', 'thread', { size: 1 });
  try {
    const held = pool.tasks.echo;
    assert.equal(pool.tasks.echo, held, 'a handle someone holds stays the same object');
    const refs: Array<WeakRef<object>> = [];
    const untyped = pool.tasks as unknown as Record<string, () => Promise<unknown>>;
    for (let index = 0; index < 50; index++) refs.push(new WeakRef(untyped[`unknown${index}`]!));
    const error = await untyped.unknown0!().catch((thrown: unknown) => thrown);
    assert.equal((error as { code?: unknown }).code, 'ERR_OFFLOAD_UNKNOWN_TASK');
    await collect();
    assert.equal(refs.filter((ref) => ref.deref() !== undefined).length, 0);
    assert.equal(pool.tasks.echo, held);
  } finally {
    await pool.close();
  }
});

test("a worker forgets cancels of tasks it had already answered, and keeps those of tasks still waiting", () => {
  const cancels = new EarlyCancels(8);
  const waiting = [1_000_001, 1_000_002];
  // Cancels that crossed their tasks' answers: none of these ids will ever run here.
  for (let id = 0; id < 10_000; id++) cancels.add(id, () => waiting);
  assert.ok(cancels.size <= 16, `held ${cancels.size} cancels of tasks already answered`);
  // Tasks still waiting keep their cancels through every look.
  for (const id of waiting) cancels.add(id, () => waiting);
  for (let id = 10_000; id < 20_000; id++) cancels.add(id, () => waiting);
  assert.equal(cancels.take(1_000_001), true);
  assert.equal(cancels.take(1_000_002), true);
  assert.equal(cancels.take(1_000_002), false, 'taken once');
});
