/**
 * A worker process's stdout and stderr reach the parent's, a whole line at a time, each line
 * prefixed with `[<pool name>#<worker id>] `.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { PrefixedLines } from '../src/executors/output.js';

const run = promisify(execFile);

/** Runs `body` in a fresh parent process with a process pool named `name`; returns its output. */
async function parentRunning(name: string, size: number, body: string): Promise<{ stdout: string; stderr: string }> {
  const script = `
    import { createPool } from '../src/index.js';
    const pool = createPool(new URL('./fixtures/process-tasks.ts', import.meta.url), { executor: 'process', size: ${size}, name: '${name}' });
    ${body}
    await pool.close();
  `;
  return await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: new URL('.', import.meta.url),
    timeout: 30_000,
  });
}

test("each line of a worker's stdout and stderr reaches the parent's, prefixed with pool name and worker id", async () => {
  const { stdout, stderr } = await parentRunning('report', 1, `console.log('worker', await pool.run('print', []));`);
  const lines = stdout.split('\n');
  // Output and results travel on different channels, so only the worker's own order is fixed.
  assert.deepEqual(
    lines.filter((line) => line.startsWith('[report#1]')),
    [
      '[report#1] first line',
      // Written as 'second ' then 'line\n': one line all the same.
      '[report#1] second line',
      // The last line had no newline; it is written whole when the worker ends.
      '[report#1] no newline at exit',
    ],
  );
  assert.deepEqual(lines.filter((line) => !line.startsWith('[report#1]')), ['worker 1', '']);
  assert.ok(lines.indexOf('[report#1] no newline at exit') > lines.indexOf('worker 1'), 'the unterminated line comes at exit');
  assert.equal(stderr, '[report#1] a warning\n');
});

test('lines written in pieces by concurrent workers never interleave', async () => {
  const { stdout } = await parentRunning('chat', 2, `await pool.warmup(); await Promise.all([pool.run('chatter', [50]), pool.run('chatter', [50])]);`);
  const lines = stdout.trim().split('\n');
  assert.equal(lines.length, 100);
  const perWorker = new Map<string, number[]>();
  for (const line of lines) {
    const match = /^\[chat#(\d+)\] worker (\d+) line (\d+)$/.exec(line);
    assert.ok(match, `a mixed-up line: ${JSON.stringify(line)}`);
    assert.equal(match[1], match[2], 'the prefix names the worker that wrote the line');
    perWorker.set(match[1]!, [...(perWorker.get(match[1]!) ?? []), Number(match[3])]);
  }
  assert.equal(perWorker.size, 2, 'both workers wrote');
  for (const numbers of perWorker.values()) assert.deepEqual(numbers, Array.from({ length: 50 }, (_, i) => i));
});

test('a line longer than 64 KiB is passed on in pieces rather than held without bound', () => {
  const target = new PassThrough();
  const chunks: string[] = [];
  target.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
  const lines = new PrefixedLines('[p#1] ', target);
  lines.write(Buffer.from('x'.repeat(40 * 1024)));
  assert.equal(target.readableLength + chunks.length, 0, 'a partial line is held');
  lines.write(Buffer.from('x'.repeat(40 * 1024)));
  lines.write(Buffer.from('é tail\n'));
  const output = chunks.join('') + String(target.read() ?? '');
  assert.equal(output, `[p#1] ${'x'.repeat(80 * 1024)}\n[p#1] é tail\n`);
});
