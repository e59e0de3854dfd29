import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { localExecutors } from './helpers.js';

const run = promisify(execFile);
const root = new URL('..', import.meta.url);

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

test("the seed's Tornado handler: GET / answers `Test 10<br/>` through the callback style", async () => {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/callback-server.ts'], {
    cwd: root,
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const [line] = (await once(child.stdout, 'data')) as [Buffer];
    assert.match(line.toString(), /listening/);
    const answers = await Promise.all(
      Array.from({ length: 3 }, () => fetch(`http://127.0.0.1:${port}/`).then((r) => r.text())),
    );
    assert.deepEqual(answers, ['Test 10<br/>', 'Test 10<br/>', 'Test 10<br/>']);
  } finally {
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    assert.equal(code, 0, 'the example shuts down cleanly on SIGTERM');
  }
});

test("the seed's await style: results come back while the event loop keeps ticking", async () => {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/await-style.ts'], { cwd: root, timeout: 60_000 });
  assert.match(stdout, /^results: 0 1 2 3 4 5 6 7 8 9$/m);
  const ticks = Number(/ticked (\d+) times/.exec(stdout)?.[1]);
  assert.ok(ticks > 0, 'the main event loop ran while the tasks blocked their workers');
  assert.match(stdout, /Done\.\n$/);
});

// The seed's programs start their own pools with no service to talk to; the demo's remote mode
// is tested in remote.test.ts.
for (const executor of localExecutors()) {
  test(`the seed's decorator demo: four calls start in parallel before any stops (${executor})`, async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/decorator-demo.ts', executor], {
      cwd: root,
      timeout: 60_000,
    });
    // Worker processes' lines arrive prefixed with their pool and worker; threads share stdout.
    const workerLine = executor === 'process' ? /^\[offload#\d+\] (Starting|Stopping) \d$/ : /^(Starting|Stopping) \d$/;
    const raw = stdout.trim().split('\n');
    assert.equal(raw.filter((line) => workerLine.test(line)).length, 8, stdout);
    const lines = raw.map((line) => line.replace(/^\[offload#\d+\] /, ''));
    const index = (prefix: string): number[] => lines.flatMap((line, i) => (line.startsWith(prefix) ? [i] : []));
    assert.equal(index('spawned').length, 4);
    assert.equal(index('Starting').length, 4);
    assert.equal(index('Stopping').length, 4);
    assert.deepEqual(lines.filter((l) => l.startsWith('got')).sort(), ['got result 0', 'got result 1', 'got result 2', 'got result 3']);
    assert.ok(Math.max(...index('Starting')) < Math.min(...index('Stopping')), stdout);
    assert.equal(lines.at(-1), 'Done.');
  });

  test(`the compiled package works from dist/ in plain Node, with no loader, through its exports map (${executor})`, async () => {
    const script = `
      import { createPool, OffloadError } from 'offload';
      const pool = createPool(new URL('./test/fixtures/basic-js.mjs', 'file://${root.pathname}'), { executor: '${executor}', size: 1 });
      console.log(await pool.run('add', [20, 22]), typeof OffloadError);
      await pool.close();
    `;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: root, timeout: 30_000 });
    assert.equal(stdout.trim(), '42 function');
  });
}

test('the decorator demo refuses an unknown executor with its usage', async () => {
  const error = await run(process.execPath, ['--import', 'tsx', 'examples/decorator-demo.ts', 'fiber'], { cwd: root, timeout: 30_000 }).then(
    () => assert.fail('expected exit code 2'),
    (error: { code: number; stderr: string }) => error,
  );
  assert.equal(error.code, 2);
  assert.match(error.stderr, /usage: .*\[thread\|process\]/);
});
