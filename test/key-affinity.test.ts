import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createPool } from '../src/index.js';
import { KeyAffinity } from '../src/pool/scheduling/key-affinity.js';
import { WorkerSlot } from '../src/pool/worker-slot.js';
import type * as Scheduling from './fixtures/scheduling.js';
import { capabilities, executors, fixture, poolFor } from './helpers.js';

type Visit = Awaited<ReturnType<typeof Scheduling.visit>>;

describe('key affinity: rendezvous hashing over live workers', () => {
  const slots = (ids: number[]): WorkerSlot[] => ids.map((id) => new WorkerSlot(id, undefined, undefined));
  const keys = Array.from({ length: 2000 }, (_, i) => `tenant-${i}`);
  const owners = (workers: WorkerSlot[]): Map<string, number> => {
    const affinity = new KeyAffinity();
    return new Map(keys.map((key) => [key, affinity.owner(key, workers)!.id]));
  };

  test('keys spread evenly over the workers', () => {
    const counts = new Map<number, number>();
    for (const id of owners(slots([1, 2, 3, 4])).values()) counts.set(id, (counts.get(id) ?? 0) + 1);
    assert.equal(counts.size, 4);
    for (const count of counts.values()) assert.ok(count > 400 && count < 600, `about a quarter each, got ${count}`);
  });

  test('adding a worker moves only the keys it takes, about 1/N of them', () => {
    const before = owners(slots([1, 2, 3, 4]));
    const after = owners(slots([1, 2, 3, 4, 5]));
    const moved = keys.filter((key) => before.get(key) !== after.get(key));
    for (const key of moved) assert.equal(after.get(key), 5, 'a moved key goes to the new worker, never between old ones');
    assert.ok(moved.length > 300 && moved.length < 500, `about 1/5 of 2000 keys move, got ${moved.length}`);
  });

  test('a worker that leaves hands on only its own keys; retiring workers get no new keys', () => {
    const workers = slots([1, 2, 3, 4]);
    const before = owners(workers);
    workers[2]!.isRetiring = true;
    const after = owners(workers);
    for (const key of keys) {
      if (before.get(key) === 3) assert.notEqual(after.get(key), 3);
      else assert.equal(after.get(key), before.get(key), 'keys of the other workers stay put');
    }
  });
});

for (const executor of executors) {
  describe(`key affinity (${executor})`, () => {
    if (!capabilities[executor].ownsWorkers) {
      test('is refused by name: remote jobs go to whichever remote worker is free', async () => {
        const pool = poolFor<typeof Scheduling>('scheduling.ts', executor, { size: 1 });
        try {
          await assert.rejects(pool.run('whoAmI', [], { key: 'a' }), { name: 'TypeError', message: /options\.key does not apply to the remote executor/ });
          assert.equal(await pool.run('whoAmI', []), 1, 'the pool still serves unkeyed calls');
        } finally {
          await pool.close();
        }
      });
      return;
    }

    test('calls of a key go to one worker, in call order, one at a time; keys spread over the workers', async () => {
      const pool = poolFor<typeof Scheduling>('scheduling.ts', executor, { size: 3 });
      try {
        await pool.warmup();
        const calls: Array<Promise<Visit>> = [];
        for (let round = 0; round < 4; round++) {
          for (let k = 0; k < 12; k++) calls.push(pool.tasks.visit.with({ key: `k${k}` })(`k${k}`, 5));
        }
        const visits = await Promise.all(calls);
        const workersUsed = new Set<number | undefined>();
        for (let k = 0; k < 12; k++) {
          const ofKey = visits.filter((visit) => visit.key === `k${k}`);
          assert.equal(new Set(ofKey.map((visit) => visit.worker)).size, 1, `every call of k${k} ran on one worker`);
          assert.deepEqual(ofKey.map((visit) => visit.count), [1, 2, 3, 4], 'the state the key warmed there is reused, in call order');
          for (let i = 1; i < ofKey.length; i++) assert.ok(ofKey[i - 1]!.end <= ofKey[i]!.start, 'one at a time');
          workersUsed.add(ofKey[0]!.worker);
        }
        assert.equal(workersUsed.size, 3, 'twelve keys spread over all three workers');
      } finally {
        await pool.close();
      }
    });

    test("a keyed call that finds its key free and its worker idle is handed over in its own tick, as an unkeyed one is; the key's next call waits its turn", async () => {
      const pool = poolFor<typeof Scheduling>('scheduling.ts', executor, { size: 2 });
      try {
        await pool.warmup();
        await pool.run('visit', ['warm', 1], { key: 'warm' }); // the pool has seen keys: every dispatch honours them
        const first = pool.run('visit', ['lone', 20], { key: 'lone' });
        assert.equal(pool.stats().queued, 0, 'sent at once, not at the end of the tick');
        const second = pool.run('visit', ['lone', 1], { key: 'lone' });
        assert.equal(pool.stats().queued, 1, 'the same key is busy: its next call waits');
        const [a, b] = await Promise.all([first, second]);
        assert.deepEqual([a.count, b.count], [1, 2]);
        assert.equal(a.worker, b.worker);
        assert.ok(a.end <= b.start);
      } finally {
        await pool.close();
      }
    });

    test('run, submit and .with() all honour the key', async () => {
      const pool = poolFor<typeof Scheduling>('scheduling.ts', executor, { size: 2 });
      try {
        await pool.warmup();
        const first = await pool.run('visit', ['same', 1], { key: 'same' });
        const second = await new Promise<Visit>((resolve, reject) =>
          pool.submit('visit', ['same', 1], (error, value) => (error ? reject(error) : resolve(value!)), { key: 'same' }),
        );
        const third = await pool.tasks.visit.with({ key: 'same' })('same', 1);
        assert.deepEqual([first, second, third].map((visit) => visit.count), [1, 2, 3]);
        assert.equal(new Set([first, second, third].map((visit) => visit.worker)).size, 1);
      } finally {
        await pool.close();
      }
    });

    test('a hot key does not hold up another key that lives on the same worker', async () => {
      const pool = poolFor<typeof Scheduling>('scheduling.ts', executor, { size: 2 });
      try {
        await pool.warmup();
        const hotWorker = (await pool.run('whoAmI', [], { key: 'hot' }))!;
        let cold = '';
        for (let i = 0; !cold; i++) if ((await pool.run('whoAmI', [], { key: `cold-${i}` })) === hotWorker) cold = `cold-${i}`;
        // Hot visits long enough that the margins below are a whole visit, not scheduling noise.
        const hot = Array.from({ length: 6 }, () => pool.run('visit', ['hot', 100], { key: 'hot' }));
        const [coldVisit, anywhere, hotVisits] = await Promise.all([
          pool.run('visit', [cold, 1], { key: cold }),
          pool.run('visit', ['unkeyed', 1]),
          Promise.all(hot),
        ]);
        assert.equal(coldVisit.worker, hotWorker);
        assert.notEqual(anywhere.worker, hotWorker, 'an unkeyed call goes to the worker with room');
        assert.ok(anywhere.end <= hotVisits[2]!.start, 'and does not wait for the hot key either');
        assert.ok(coldVisit.end <= hotVisits[2]!.start, 'the cold call ran after at most the hot call in progress, not after its backlog');
      } finally {
        await pool.close();
      }
    });

    test('a worker that exits hands its keys on; the key keeps working', async () => {
      const pool = poolFor<typeof Scheduling>('scheduling.ts', executor, { size: 2 });
      try {
        await pool.warmup();
        const before = await pool.run('visit', ['k', 1], { key: 'k' });
        const queuedBefore = pool.run('visit', ['k', 1], { key: 'k' });
        await assert.rejects(pool.run('crash', [], { key: 'k' }), { code: 'ERR_OFFLOAD_WORKER_EXITED' });
        assert.equal((await queuedBefore).worker, before.worker, 'the call before the crash ran where the key lived');
        const after = await pool.run('visit', ['k', 1], { key: 'k' });
        assert.notEqual(after.worker, before.worker, 'the key moved to a live worker');
        assert.equal((await pool.run('visit', ['k', 1], { key: 'k' })).worker, after.worker, 'and stays there');
      } finally {
        await pool.close();
      }
    });

    test('calls waiting for their key when its worker exits go to a live worker', { timeout: 20_000 }, async () => {
      const pool = poolFor<typeof Scheduling>('scheduling.ts', executor, { size: 2, concurrentTasksPerWorker: 2 });
      try {
        await pool.warmup();
        const home = (await pool.run('visit', ['k', 1], { key: 'k' })).worker;
        let neighbour = 0;
        while ((await pool.run('visit', [`j${neighbour}`, 1], { key: `j${neighbour}` })).worker !== home) neighbour++;
        const running = pool.run('visit', ['k', 2_000], { key: 'k' });
        const waiting = pool.run('visit', ['k', 1], { key: 'k' });
        await new Promise((resolve) => setTimeout(resolve, 0));
        assert.equal(pool.stats().queued, 1, 'the second call of k waits for its key, owned by the worker about to exit');
        await assert.rejects(pool.run('crashSoon', [50], { key: `j${neighbour}` }), { code: 'ERR_OFFLOAD_WORKER_EXITED' });
        await assert.rejects(running, { code: 'ERR_OFFLOAD_WORKER_EXITED' });
        const moved = await waiting;
        assert.notEqual(moved.worker, home, 'the waiting call ran on a live worker, not the one that exited');
        assert.equal((await pool.run('visit', ['k', 1], { key: 'k' })).worker, moved.worker, 'and the key stays there');
      } finally {
        await pool.close();
      }
    });

    test("a key's call that its exiting worker held unstarted still runs before the key's later calls", { timeout: 30_000 }, async () => {
      const pool = poolFor<typeof Scheduling>('scheduling.ts', executor, { size: 2 });
      try {
        await pool.warmup();
        // Quick calls only: they keep the workers' pipelines deep, so a call is handed on behind a running one.
        const home = await pool.run('whoAmI', [], { key: 'a' });
        let neighbour = 0;
        while ((await pool.run('whoAmI', [], { key: `b${neighbour}` })) !== home) neighbour++;
        await Promise.all(Array.from({ length: 2000 }, () => pool.run('whoAmI', [])));
        const crashed = pool.run('crashSoon', [30], { key: `b${neighbour}` });
        const first = pool.run('visit', ['a', 1], { key: 'a' });
        const second = pool.run('visit', ['a', 1], { key: 'a' });
        await new Promise((resolve) => setTimeout(resolve, 0));
        // Counted as waiting: a's first call, handed on behind the crashing one, and its second, waiting for the key.
        assert.equal(pool.stats().queued, 2);
        assert.equal(pool.stats().busy, 1, 'only the crashing call runs');
        await assert.rejects(crashed, { code: 'ERR_OFFLOAD_WORKER_EXITED' });
        const [one, two] = await Promise.all([first, second]);
        assert.equal(one.worker, two.worker, 'both moved to the live worker');
        // Counted per worker: the live one had never served a, so it saw them in the order they ran.
        assert.deepEqual([one.count, two.count], [1, 2], 'the call given back ran first');
      } finally {
        await pool.close();
      }
    });

    test('maxQueue, deadlines and cancellation apply to calls waiting for their key', async () => {
      const pool = poolFor<typeof Scheduling>('scheduling.ts', executor, { size: 1, maxQueue: 3 });
      try {
        await pool.warmup();
        const running = pool.run('visit', ['a', 100], { key: 'a' });
        const controller = new AbortController();
        const aborted = pool.run('visit', ['a', 1], { key: 'a', signal: controller.signal });
        const timedOut = pool.run('visit', ['a', 1], { key: 'a', timeout: 20 });
        const next = pool.run('visit', ['a', 1], { key: 'a' });
        await new Promise((resolve) => setTimeout(resolve, 0));
        assert.equal(pool.stats().queued, 3, 'calls waiting for their key count as queued');
        await assert.rejects(pool.run('visit', ['b', 1], { key: 'b' }), { code: 'ERR_OFFLOAD_QUEUE_FULL' });
        controller.abort();
        await assert.rejects(aborted, { code: 'ERR_OFFLOAD_ABORTED' });
        await assert.rejects(timedOut, { code: 'ERR_OFFLOAD_TIMEOUT' });
        const [first, last] = await Promise.all([running, next]);
        assert.equal(last.count, first.count + 1, 'the calls that gave up never ran');
        assert.equal(pool.stats().queued, 0);
      } finally {
        await pool.close();
      }
    });

    test('priorities still order the calls of different keys', async () => {
      const pool = poolFor<typeof Scheduling>('scheduling.ts', executor, { size: 1 });
      try {
        await pool.warmup();
        const blocker = pool.run('visit', ['x', 50], { key: 'x' });
        const low = pool.run('visit', ['low', 1], { key: 'low', priority: 0 });
        const high = pool.run('visit', ['high', 1], { key: 'high', priority: 5 });
        const [, lowVisit, highVisit] = await Promise.all([blocker, low, high]);
        assert.ok(highVisit.end <= lowVisit.start, 'the higher priority call ran first');
      } finally {
        await pool.close();
      }
    });

    test('a key must be a string', async () => {
      const pool = createPool<typeof Scheduling>(fixture('scheduling.ts'), { executor, size: 1 });
      try {
        await assert.rejects(pool.run('whoAmI', [], { key: 42 as unknown as string }), { name: 'TypeError', message: /options\.key must be a string/ });
      } finally {
        await pool.close();
      }
    });
  });
}
