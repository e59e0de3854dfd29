// A machine with only Node: the suites that need redis-server or Chromium skip, saying why and how
// to install them, and the run passes; with OFFLOAD_TEST_REQUIRE_ALL=1 (as in CI) they fail instead.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { findExecutable, requirement } from './requirements.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'offload-bare-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

// The bare PATH: node and nothing else.
symlinkSync(process.execPath, join(scratch, 'node'));
const bareEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: scratch, ...extra };
  // NODE_TEST_CONTEXT would make the child runner think it is nested in this one and run nothing.
  for (const name of ['OFFLOAD_TEST_REDIS_SERVER', 'OFFLOAD_TEST_CHROMIUM', 'OFFLOAD_TEST_REQUIRE_ALL', 'NODE_TEST_CONTEXT']) {
    if (!(name in extra)) delete env[name];
  }
  return env;
};

/** The test runner over `files`, on a PATH without redis-server or Chromium; only the remote executor is picked, so nothing else runs. */
async function runBare(files: string[], extra: NodeJS.ProcessEnv = {}): Promise<{ code: number; output: string }> {
  const args = ['--import', 'tsx', '--test', '--test-reporter=spec', ...files];
  const env = bareEnv({ OFFLOAD_TEST_EXECUTORS: 'remote', ...extra });
  try {
    const { stdout, stderr } = await run(process.execPath, args, { cwd: root, env });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const { code, stdout, stderr } = error as { code: number; stdout: string; stderr: string };
    return { code, output: stdout + stderr };
  }
}

const FILES = ['test/remote.test.ts', 'test/dashboard.test.ts', 'test/decorator.test.ts'];

describe('a machine without redis-server or Chromium', { concurrency: true }, () => {
  test('skips the suites that need them, saying why and how to install them, and passes', async () => {
    const { code, output } = await runBare(FILES);
    assert.equal(code, 0, output);
    assert.match(output, /﹣ remote executor: options, behaviour and faults .*# the remote executor \(needs redis-server\): redis-server not found on PATH; install it \(apt-get install redis-server/);
    assert.match(output, /﹣ remote executor: this file's shared suites .*# .*OFFLOAD_TEST_REDIS_SERVER/);
    assert.match(output, /﹣ dashboard in Chromium .*# the dashboard in a browser \(needs Chromium\): chromium, .* not found on PATH; install it \(apt-get install chromium/);
    assert.match(output, /ℹ skipped 3\n/);
    assert.match(output, /ℹ fail 0\n/);
  });

  test('fails them instead under OFFLOAD_TEST_REQUIRE_ALL=1, as CI runs', async () => {
    const { code, output } = await runBare(FILES, { OFFLOAD_TEST_REQUIRE_ALL: '1' });
    assert.equal(code, 1, output);
    assert.match(output, /ℹ fail 3\n/);
    assert.match(output, /ℹ skipped 0\n/);
    assert.match(output, /redis-server not found on PATH.*\(OFFLOAD_TEST_REQUIRE_ALL=1 forbids skipping it\)/);
    assert.match(output, /chromium, .* not found on PATH.*\(OFFLOAD_TEST_REQUIRE_ALL=1 forbids skipping it\)/);
  });

  test('an unknown name in OFFLOAD_TEST_EXECUTORS fails the run, naming the known ones', async () => {
    const { code, output } = await runBare(['test/decorator.test.ts'], { OFFLOAD_TEST_EXECUTORS: 'thread,fibre' });
    assert.equal(code, 1, output);
    assert.match(output, /OFFLOAD_TEST_EXECUTORS: unknown executor\(s\) fibre; use thread, process, remote/);
  });
});

describe('finding a binary', () => {
  const dir = join(scratch, 'tools');
  const other = join(scratch, 'other');
  for (const folder of [dir, other]) mkdirSync(folder);
  const make = (folder: string, name: string, mode: number): string => {
    const path = join(folder, name);
    writeFileSync(path, '#!/bin/sh\n');
    chmodSync(path, mode);
    return path;
  };
  const spec = { purpose: 'p', variable: 'OFFLOAD_TEST_TOOL', names: ['tool'], install: 'get tool' };

  test('on PATH, in order, skipping files that are not executable', () => {
    make(dir, 'tool', 0o644);
    const executable = make(other, 'tool', 0o755);
    assert.equal(findExecutable(['tool'], [dir, other].join(delimiter)), executable);
    assert.equal(findExecutable(['tool'], dir), undefined);
    assert.equal(requirement(spec, { PATH: [dir, other].join(delimiter) }).path, executable);
  });

  test('where the variable names it, as a path or as a name on PATH, and only there', () => {
    const named = make(dir, 'named-tool', 0o755);
    assert.equal(requirement(spec, { PATH: '', OFFLOAD_TEST_TOOL: named }).path, named);
    assert.equal(requirement(spec, { PATH: dir, OFFLOAD_TEST_TOOL: 'named-tool' }).path, named);
    const wrong = requirement(spec, { PATH: other, OFFLOAD_TEST_TOOL: join(dir, 'absent') });
    assert.equal(wrong.path, undefined, 'a variable naming nothing does not fall back to PATH');
    assert.match(wrong.missing ?? '', /OFFLOAD_TEST_TOOL=.*absent is not an executable; install it \(get tool\)/);
  });
});
