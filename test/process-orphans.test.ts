/**
 * No orphans: a parent killed by SIGKILL runs no cleanup at all, yet its worker processes must end
 * by themselves — the idle one and the one stuck in a synchronous task alike.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

/** Alive and not a zombie: a zombie has exited and only waits for its new parent to reap it. */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return process.platform !== 'linux';
  }
}

test('worker processes exit by themselves when their parent is killed with SIGKILL, busy or idle', async () => {
  const script = `
    import { createPool } from '../src/index.js';
    const pool = createPool(new URL('./fixtures/process-tasks.ts', import.meta.url), { executor: 'process', size: 2 });
    await pool.warmup();
    // Two slow calls at once land on different workers: their pids name both.
    const pids = await Promise.all([pool.run('slowPid', [200]), pool.run('slowPid', [200])]);
    // One worker now spins synchronously for ever; the other stays idle.
    void pool.run('spin', []);
    setTimeout(() => console.log(JSON.stringify(pids)), 100);
    setInterval(() => {}, 1000);
  `;
  const parent = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: new URL('.', import.meta.url),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const lines = createInterface({ input: parent.stdout! });
    const [line] = (await once(lines, 'line')) as [string];
    const pids = JSON.parse(line) as number[];
    assert.equal(pids.length, 2);
    assert.notEqual(pids[0], pids[1]);
    assert.ok(pids.every(isRunning), 'both workers run before the parent dies');

    parent.kill('SIGKILL');
    await once(parent, 'exit');
    const deadline = Date.now() + 5000;
    while (pids.some(isRunning) && Date.now() < deadline) await sleep(100);
    assert.deepEqual(pids.filter(isRunning), [], 'no worker outlived its parent by 5 s');
  } finally {
    parent.kill('SIGKILL');
  }
});
