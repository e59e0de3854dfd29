import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { buildDemo } from '../demo/server.js';

const scratch = mkdtempSync(join(tmpdir(), 'offload-demo-'));
let base = '';
let close: () => Promise<unknown> = async () => {};

before(async () => {
  const { app } = await buildDemo({ databasePath: join(scratch, 'demo.db'), poolSize: 2 });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address() as { port: number };
  base = `http://127.0.0.1:${address.port}`;
  close = () => app.close();
});
after(async () => {
  await close();
  rmSync(scratch, { recursive: true, force: true });
});

test("GET / answers the seed's `Test 10<br/>`", async () => {
  const response = await fetch(`${base}/`);
  assert.equal(response.status, 200);
  assert.equal(await response.text(), 'Test 10<br/>');
});

test('GET /report runs the SQLite report in the pool, and inline on request, with the same rows', async () => {
  const offloaded = (await (await fetch(`${base}/report?limit=5`)).json()) as { mode: string; rows: Array<{ total: number }> };
  const inline = (await (await fetch(`${base}/report?limit=5&inline=1`)).json()) as { mode: string; rows: unknown[] };
  assert.equal(offloaded.mode, 'offloaded');
  assert.equal(inline.mode, 'inline');
  assert.equal(offloaded.rows.length, 5);
  assert.deepEqual(offloaded.rows, inline.rows);
  const totals = offloaded.rows.map((row) => row.total);
  assert.deepEqual(totals, [...totals].sort((a, b) => b - a));
});

test('GET /health answers while report queries keep the pool busy', async () => {
  const reports = Array.from({ length: 6 }, () => fetch(`${base}/report`).then((r) => r.json()));
  const health = (await (await fetch(`${base}/health`)).json()) as { status: string; pool: { busy: number } };
  assert.equal(health.status, 'ok');
  // Event order, not timing: /health answered before the reports it overlapped with finished.
  assert.ok(health.pool.busy > 0, 'the pool was busy when /health answered');
  await Promise.all(reports);
});

test('npm start serves on PORT and, on SIGTERM, stops accepting, drains the pool and exits cleanly', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'demo/server.ts'], {
    cwd: new URL('..', import.meta.url),
    env: { ...process.env, PORT: '0', OFFLOAD_DEMO_DB: join(scratch, 'demo.db') },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = (await once(child.stdout, 'data')) as [Buffer];
  const port = /127\.0\.0\.1:(\d+)/.exec(line.toString())?.[1];
  assert.ok(port, line.toString());
  const answer = fetch(`http://127.0.0.1:${port}/`).then((r) => r.text());
  assert.equal(await answer, 'Test 10<br/>');
  child.kill('SIGTERM');
  const [code] = await once(child, 'exit');
  assert.equal(code, 0);
});
