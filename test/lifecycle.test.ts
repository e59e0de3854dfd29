import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { PoolStats } from '../src/index.js';
import type * as Basic from './fixtures/basic.js';
import type * as Lifecycle from './fixtures/lifecycle.js';
import { executors, poolFor, rejection } from './helpers.js';

const run = promisify(execFile);

/** The counters of `stats()` that these tests pin down. */
function counts(stats: PoolStats): Pick<PoolStats, 'size' | 'busy' | 'idle' | 'queued' | 'completed' | 'failed'> {
  const { size, busy, idle, queued, completed, failed } = stats;
  return { size, busy, idle, queued, completed, failed };
}
const scratch = mkdtempSync(join(tmpdir(), 'offload-lifecycle-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

for (const executor of executors) {
  describe(`lifecycle (${executor})`, () => {
    test('close() finishes queued and running tasks, runs teardown in every worker, and ends them', async () => {
      const marker = join(scratch, `teardown-${executor}.log`);
      process.env.OFFLOAD_TEST_MARKER = marker;
      const pool = poolFor<typeof Lifecycle>('lifecycle.ts', executor, { size: 2 });
      await pool.warmup();
      const work = Array.from({ length: 6 }, () => pool.tasks.sleep(30));
      const closed = pool.close();
      assert.equal(((await rejection(pool.tasks.sleep(1))) as { code: string }).code, 'ERR_OFFLOAD_CLOSED');
      assert.deepEqual(await Promise.all(work), [30, 30, 30, 30, 30, 30]);
      await closed;
      const lines = readFileSync(marker, 'utf8').trim().split('\n');
      assert.equal(lines.length, 2);
      assert.equal(new Set(lines).size, 2);
      assert.deepEqual(counts(pool.stats()), { size: 0, busy: 0, idle: 0, queued: 0, completed: 6, failed: 0 });
      assert.equal(pool.close(), closed, 'close() is idempotent');
    });

    test('a pool that never ran a task closes at once, having started no worker', async () => {
      const pool = poolFor<typeof Basic>('basic.ts', executor);
      await pool.close();
      assert.equal(pool.stats().size, 0);
    });

    test('stats() counts workers, queue and outcomes', async () => {
      const pool = poolFor<typeof Basic>('basic.ts', executor, { size: 2 });
      try {
        assert.deepEqual(counts(pool.stats()), { size: 0, busy: 0, idle: 0, queued: 0, completed: 0, failed: 0 });
        await pool.warmup();
        const running = [pool.tasks.window(100), pool.tasks.window(100), pool.tasks.window(100)];
        await new Promise((resolve) => setTimeout(resolve, 30));
        assert.deepEqual(counts(pool.stats()), { size: 2, busy: 2, idle: 0, queued: 1, completed: 0, failed: 0 });
        await Promise.all(running);
        await rejection(pool.run('missing' as 'add', [1, 2]));
        assert.deepEqual(counts(pool.stats()), { size: 2, busy: 0, idle: 2, queued: 0, completed: 3, failed: 1 });
      } finally {
        await pool.close();
      }
    });

    test('a process that uses a pool and closes it exits by itself: no thread or handle is left', async () => {
      const script = `
        import { createPool } from '../src/index.js';
        const pool = createPool(new URL('./fixtures/basic.ts', import.meta.url), { executor: '${executor}', size: 2 });
        await Promise.all(Array.from({ length: 100 }, (_, i) => pool.run('add', [i, 1])));
        await pool.close();
        console.log('closed');
      `;
      const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        cwd: new URL('.', import.meta.url),
        timeout: 30_000,
      });
      assert.equal(stdout.trim(), 'closed');
    });

    test('a forgotten pool does not keep the process alive once its tasks are done', async () => {
      const script = `
        import { createPool } from '../src/index.js';
        const pool = createPool(new URL('./fixtures/basic.ts', import.meta.url), { executor: '${executor}', size: 2 });
        console.log(await pool.run('add', [1, 1]));
      `;
      const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        cwd: new URL('.', import.meta.url),
        timeout: 30_000,
      });
      assert.equal(stdout.trim(), '2');
    });
  });
}
