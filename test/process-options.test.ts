/**
 * The process executor's options: `env`, `execArgv`, `cwd`, validated when the pool is created
 * (`maxOldSpaceSizeMb` at work is in process-isolation), and the Node flags a worker process
 * inherits from its parent.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { workerFlags } from '../src/executors/process-flags.js';
import { createPool, TaskModuleError, WorkerExitedError } from '../src/index.js';
import type * as Tasks from './fixtures/process-tasks.js';
import { fixture, poolFor, rejection } from './helpers.js';

const scratch = mkdtempSync(join(tmpdir(), 'offload-cwd-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

test('env, cwd and execArgv reach the worker process; the pool internals do not', async () => {
  const pool = poolFor<typeof Tasks>('process-tasks.ts', 'process', {
    size: 1,
    env: { ...process.env, OFFLOAD_TEST_VALUE: 'from the pool options' },
    cwd: scratch,
    execArgv: ['--max-semi-space-size=2'],
  });
  try {
    const seen = await pool.tasks.environment('OFFLOAD_TEST_VALUE');
    assert.equal(seen.value, 'from the pool options');
    assert.equal(seen.cwd, realpathSync(scratch));
    assert.ok(seen.execArgv.includes('--max-semi-space-size=2'), seen.execArgv.join(' '));
    // The TypeScript loader is added by absolute URL, so it resolves from any cwd.
    assert.ok(seen.execArgv.some((flag) => flag.startsWith('file:') && flag.includes('/tsx/')), seen.execArgv.join(' '));
    assert.equal((await pool.tasks.environment('OFFLOAD_PROCESS_WORKER')).value, undefined);
  } finally {
    await pool.close();
  }
});

test('a worker process that cannot start fails calls with ERR_OFFLOAD_TASK_MODULE, the exit as cause', async () => {
  const pool = poolFor<typeof Tasks>('process-tasks.ts', 'process', { size: 1, name: 'expected-failure', execArgv: ['--no-such-flag'] });
  try {
    const error = await rejection(pool.tasks.pid());
    assert.ok(error instanceof TaskModuleError, String(error));
    assert.equal(error.code, 'ERR_OFFLOAD_TASK_MODULE');
    assert.ok(error.cause instanceof WorkerExitedError);
    assert.equal(error.cause.exitCode, 9, 'Node exits with 9 on a bad option');
  } finally {
    await pool.close();
  }
});

test('a worker process that cannot be spawned fails calls with ERR_OFFLOAD_TASK_MODULE, the spawn error as cause', async () => {
  const doomed = mkdtempSync(join(scratch, 'doomed-'));
  const pool = poolFor<typeof Tasks>('process-tasks.ts', 'process', { size: 1, cwd: doomed });
  rmSync(doomed, { recursive: true });
  try {
    const error = await rejection(pool.tasks.pid());
    assert.ok(error instanceof TaskModuleError, String(error));
    assert.equal(error.code, 'ERR_OFFLOAD_TASK_MODULE');
    assert.equal((error.cause as NodeJS.ErrnoException).code, 'ENOENT');
  } finally {
    await pool.close();
  }
});

test('a worker process that cannot be spawned for want of file descriptors (EMFILE) fails calls with ERR_OFFLOAD_TASK_MODULE; the main process lives on', { skip: process.platform === 'win32' && 'ulimit is a POSIX shell builtin' }, async () => {
  // Node then sets up no pipes and no channel, and emits its 'error' on the next tick.
  const script = fileURLToPath(fixture('spawn-out-of-fds.ts'));
  const { stdout } = await promisify(execFile)('sh', ['-c', 'ulimit -n 256 && exec "$0" "$@"', process.execPath, '--import', 'tsx', script], { timeout: 60_000 });
  assert.deepEqual(JSON.parse(stdout.trim().split('\n').at(-1)!), {
    first: 'number',
    outcome: { code: 'ERR_OFFLOAD_TASK_MODULE', cause: 'EMFILE' },
    closed: { timedOut: false, cancelled: { queued: 0, running: 0 } },
  });
});

test("the parent's own flags pass on, except those that would hijack or break a worker", () => {
  const inherited = [
    '--enable-source-maps',
    '--input-type=module',
    '-e',
    'console.log(1)',
    '--import',
    'tsx',
    '--test-reporter',
    'spec',
    '--inspect-brk=9230',
    '--watch',
    '--max-old-space-size=4096',
    '--conditions=development',
  ];
  assert.deepEqual(workerFlags({ execArgv: undefined, loader: 'file:///tsx/loader.mjs', maxOldSpaceSizeMb: 64 }, inherited), [
    '--enable-source-maps',
    '--max-old-space-size=4096',
    '--conditions=development',
    '--import',
    'file:///tsx/loader.mjs',
    '--max-old-space-size=64',
  ]);
  // Without a loader of the worker's own, the parent's `--import tsx` stays.
  assert.deepEqual(workerFlags({ execArgv: undefined, loader: undefined, maxOldSpaceSizeMb: undefined }, ['-p', '1', '--import=tsx']), ['--import=tsx']);
  // Node reads `_` as `-` in a long flag's name: either spelling is the same flag.
  assert.deepEqual(
    workerFlags({ execArgv: undefined, loader: undefined, maxOldSpaceSizeMb: undefined }, ['--input_type=module', '--test_reporter', 'spec', '--max_old_space_size=512']),
    ['--max_old_space_size=512'],
  );
  // Flags given in the options are used as they are.
  assert.deepEqual(workerFlags({ execArgv: ['--input-type=module'], loader: undefined, maxOldSpaceSizeMb: undefined }, ['-e', 'x']), [
    '--input-type=module',
  ]);
});

test('process options are validated when the pool is created, naming the option', () => {
  const basic = fixture('basic.ts');
  assert.throws(() => createPool(basic, { executor: 'process', cwd: join(scratch, 'missing') }), (error: unknown) => {
    assert.ok(error instanceof RangeError);
    assert.match(error.message, /options\.cwd/);
    return true;
  });
  assert.throws(() => createPool(basic, { executor: 'process', cwd: '' }), /options\.cwd/);
  assert.throws(() => createPool(basic, { executor: 'process', maxOldSpaceSizeMb: 0 }), RangeError);
  assert.throws(() => createPool(basic, { executor: 'process', maxOldSpaceSizeMb: 1.5 }), /options\.maxOldSpaceSizeMb/);
  assert.throws(() => createPool(basic, { executor: 'process', env: null as never }), /options\.env/);
  assert.throws(() => createPool(basic, { executor: 'process', execArgv: '--inspect' as never }), /options\.execArgv/);
  // An option the executor cannot honour is refused rather than ignored.
  assert.throws(() => createPool(basic, { executor: 'thread', cwd: scratch }), /options\.cwd applies to the process executor/);
  assert.throws(() => createPool(basic, { maxOldSpaceSizeMb: 64 }), /options\.maxOldSpaceSizeMb applies to the process executor/);
  assert.throws(
    () => createPool(basic, { executor: 'process', resourceLimits: { maxOldGenerationSizeMb: 64 } }),
    /options\.resourceLimits applies to the thread executor/,
  );
});
