import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { request, type IncomingMessage } from 'node:http';
import { once } from 'node:events';
import { connect } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { scryptSync } from 'node:crypto';
import { buildDemo } from '../demo/server.js';
import { parseMetrics, valueOf } from './metrics-text.js';

const scratch = mkdtempSync(join(tmpdir(), 'offload-demo-'));
const exportLog = join(scratch, 'exports.log');
process.env.OFFLOAD_DEMO_EXPORT_LOG = exportLog;
const readLog = (): string => (existsSync(exportLog) ? readFileSync(exportLog, 'utf8') : '');
async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 20));
}
let base = '';
const STALL_MS = 1000;
let demoPool: Awaited<ReturnType<typeof buildDemo>>['pool'];
let close: () => Promise<unknown> = async () => {};

before(async () => {
  const { app, pool } = await buildDemo({ databasePath: join(scratch, 'demo.db'), poolSize: 2, stallTimeout: STALL_MS });
  demoPool = pool;
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

test('GET /hash hashes in the pool, and inline on request, with scrypt at its default cost', async () => {
  for (const [query, mode] of [['', 'offloaded'], ['&inline=1', 'inline']] as const) {
    const answer = (await (await fetch(`${base}/hash?password=hunter2${query}`)).json()) as { mode: string; salt: string; hash: string };
    assert.equal(answer.mode, mode);
    assert.equal(answer.hash, scryptSync('hunter2', answer.salt, 32, { N: 2 ** 14, r: 8, p: 1 }).toString('hex'));
  }
});

test('GET /image renders the same PNG in the pool and inline', async () => {
  const offloaded = await fetch(`${base}/image?width=160&height=120`);
  const inline = await fetch(`${base}/image?width=160&height=120&inline=1`);
  assert.equal(offloaded.headers.get('content-type'), 'image/png');
  assert.equal(offloaded.headers.get('x-mode'), 'offloaded');
  assert.equal(inline.headers.get('x-mode'), 'inline');
  const bytes = Buffer.from(await offloaded.arrayBuffer());
  assert.deepEqual(bytes.subarray(0, 8), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  assert.equal(bytes.readUInt32BE(16), 160); // IHDR width
  assert.deepEqual(Buffer.from(await inline.arrayBuffer()), bytes);
});

test('bad query parameters are a 400 from Fastify, before any work', async () => {
  const response = await fetch(`${base}/image?width=100000`);
  assert.equal(response.status, 400);
  assert.equal(((await response.json()) as { code: string }).code, 'FST_ERR_VALIDATION');
});

test('GET /metrics serves Prometheus text that follows the pool', async () => {
  const scrape = async () => parseMetrics(await (await fetch(`${base}/metrics`)).text()).samples;
  const completed = (samples: ReturnType<typeof parseMetrics>['samples']) =>
    valueOf(samples, 'offload_tasks_total', { pool: 'demo', outcome: 'completed' }) ?? 0;
  const before = await scrape();
  assert.equal(valueOf(before, 'offload_workers', { pool: 'demo' }), 2);
  await fetch(`${base}/`);
  const after = await scrape();
  assert.equal(completed(after), completed(before) + 1);
  assert.ok((valueOf(after, 'offload_event_loop_delay_seconds_count') ?? 0) > 0);
});

test('POST /burst fires real requests at the server and reports them', async () => {
  const response = await fetch(`${base}/burst`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ job: 'report', mode: 'offloaded', count: 3 }),
  });
  const result = (await response.json()) as { succeeded: number; failed: number; count: number };
  assert.deepEqual({ count: result.count, succeeded: result.succeeded, failed: result.failed }, { count: 3, succeeded: 3, failed: 0 });
});

test('POST /burst: a client that leaves takes its burst with it; the requests still out are cancelled', async () => {
  const before = demoPool.stats();
  const burst = request(`${base}/burst`, { method: 'POST', headers: { 'content-type': 'application/json' } });
  burst.on('error', () => {}); // leaving is the point
  burst.end(JSON.stringify({ job: 'image', mode: 'offloaded', count: 60 }));
  await waitFor(() => demoPool.stats().busy > 0);
  burst.destroy();
  await waitFor(() => demoPool.stats().busy === 0 && demoPool.stats().queued === 0);
  const completed = demoPool.stats().completed - before.completed;
  assert.ok(completed < 60, `${completed} of the 60 renders ran to the end for a client that had left`);
});

test('GET / sheds load as every route does: a full queue is a 503 with Retry-After, not a 500', async () => {
  const shedding = await buildDemo({ databasePath: join(scratch, 'demo.db'), poolSize: 1, maxQueue: 1 });
  await shedding.app.listen({ port: 0, host: '127.0.0.1' });
  try {
    const { port } = shedding.app.server.address() as { port: number };
    const answers = await Promise.all(
      Array.from({ length: 50 }, async () => {
        const response = await fetch(`http://127.0.0.1:${port}/`);
        return { status: response.status, retryAfter: response.headers.get('retry-after'), text: await response.text() };
      }),
    );
    const shed = answers.filter((answer) => answer.status !== 200);
    assert.ok(shed.length > 0 && shed.length < 50, `${shed.length} of 50 shed`);
    for (const answer of shed) {
      assert.equal(answer.status, 503, answer.text);
      assert.match(answer.retryAfter ?? '', /^[1-9]\d*$/);
    }
    for (const answer of answers) if (answer.status === 200) assert.equal(answer.text, 'Test 10<br/>');
  } finally {
    await shedding.app.close();
  }
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

interface PrintedSpan {
  name: string;
  id: string;
  traceId: string;
  parentId: string | undefined;
}

/** The spans OpenTelemetry's console exporter printed (one object literal each). */
function printedSpans(output: string): PrintedSpan[] {
  return output
    .split(/\n(?=\{\n)/)
    .filter((block) => block.includes('instrumentationScope'))
    .map((block) => ({
      name: /\n {2}name: '([^']+)'/.exec(block)![1]!,
      id: /\n {2}id: '(\w+)'/.exec(block)![1]!,
      traceId: /\n {2}traceId: '(\w+)'/.exec(block)![1]!,
      parentId: /parentSpanContext: \{[^}]*spanId: '(\w+)'/.exec(block)?.[1],
    }));
}

test('OFFLOAD_TRACE=console prints one trace per request: its span, offload\'s span under it, the worker\'s span under that', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'demo/server.ts'], {
    cwd: new URL('..', import.meta.url),
    env: { ...process.env, PORT: '0', OFFLOAD_DEMO_DB: join(scratch, 'demo.db'), OFFLOAD_TRACE: 'console' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  try {
    await waitFor(() => output.includes('offload demo on'));
    const port = /127\.0\.0\.1:(\d+)/.exec(output)![1];
    assert.equal((await fetch(`http://127.0.0.1:${port}/report?limit=2`)).status, 200);
    await waitFor(() => printedSpans(output).some((span) => span.name === 'GET /report'));
    const byName = new Map(printedSpans(output).map((span) => [span.name, span]));
    const request = byName.get('GET /report')!;
    const offloaded = byName.get('offload topCustomers');
    const work = byName.get('sqlite: top customers');
    assert.ok(offloaded && work, output);
    assert.equal(request.parentId, undefined);
    assert.equal(offloaded.parentId, request.id);
    assert.equal(work.parentId, offloaded.id);
    assert.deepEqual(new Set([request.traceId, offloaded.traceId, work.traceId]).size, 1);
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
});

test('GET /report.csv streams rows from a worker generator; a client that leaves stops the generator', async () => {
  const response = await fetch(`${base}/report.csv?rows=2000`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /text\/csv/);
  const lines = (await response.text()).trim().split('\n');
  assert.equal(lines[0], 'id,customer,country,amount,day');
  assert.equal(lines.length, 2001);
  assert.match(lines[1]!, /^1,Customer \d+,[A-Z]{2},[\d.]+,\d+$/);
  await waitFor(() => readLog().includes('finished after 2000 rows'));

  // A client that reads a little of a long export, then leaves.
  const controller = new AbortController();
  const partial = await fetch(`${base}/report.csv?rows=400000`, { signal: controller.signal });
  const reader = partial.body!.getReader();
  await reader.read();
  controller.abort();
  await waitFor(() => /stopped after \d+ rows/.test(readLog()));
  const stoppedAt = Number(/stopped after (\d+) rows/.exec(readLog())![1]);
  assert.ok(stoppedAt < 400_000, `the generator stopped early, at ${stoppedAt}`);
});

test('GET /render-progress streams the render\'s progress() values, then its end', async () => {
  const text = await (await fetch(`${base}/render-progress?width=200&height=120`)).text();
  const events = [...text.matchAll(/event: (\w+)\ndata: (.*)\n/g)].map((m) => [m[1], JSON.parse(m[2]!)] as const);
  const progress = events.filter(([name]) => name === 'progress').map(([, value]) => value as { rows: number; of: number });
  assert.ok(progress.length >= 1);
  assert.deepEqual(progress.at(-1), { rows: 120, of: 120 });
  assert.equal(events.at(-1)![0], 'done');
});

/**
 * Starts a long CSV export and stops reading once the headers are in. `readRest()` reads on
 * and resolves with whether the response arrived whole (a paused socket cannot see that the
 * server cut it until it reads up to the cut).
 */
async function stalledExport(origin: string): Promise<{ readRest(): Promise<boolean> }> {
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    request(`${origin}/report.csv?rows=400000`, resolve).on('error', reject).end();
  });
  assert.equal(response.statusCode, 200);
  response.pause();
  return {
    readRest: () =>
      new Promise<boolean>((resolve) => {
        response.on('error', () => resolve(false));
        response.on('close', () => resolve(response.complete));
        response.resume();
      }),
  };
}

test('GET /report.csv: clients that stop reading lose their stream after stallTimeout, and the workers are free again', { timeout: 120_000 }, async () => {
  // As many stalled clients as workers: without a stall limit nothing else would ever run.
  const stalled = await Promise.all([stalledExport(base), stalledExport(base)]);
  await waitFor(() => (demoPool.stats().failures['ERR_OFFLOAD_STALLED'] ?? 0) === 2);
  const response = await fetch(`${base}/hash?password=after-the-stall`);
  assert.equal(response.status, 200);
  // The server cut the stalled responses short rather than leaving them open for ever.
  assert.deepEqual(await Promise.all(stalled.map((client) => client.readRest())), [false, false]);
});

test('HEAD /report.csv answers the headers without running the export on a worker', async () => {
  const started: string[] = [];
  const onStarted = ({ name }: { name: string }): void => void started.push(name);
  demoPool.on('taskStarted', onStarted);
  try {
    const head = await fetch(`${base}/report.csv?rows=400000`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.match(head.headers.get('content-type') ?? '', /text\/csv/);
    // A later export: had HEAD queued one, it would have started first (the queue is FIFO).
    assert.equal((await (await fetch(`${base}/report.csv?rows=1`)).text()).split('\n').length, 3);
    assert.deepEqual(started, ['ordersCsv']);
  } finally {
    demoPool.off('taskStarted', onStarted);
  }
});

test('on SIGTERM the demo exits although streaming clients stopped reading', { timeout: 120_000 }, async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'demo/server.ts'], {
    cwd: new URL('..', import.meta.url),
    env: { ...process.env, PORT: '0', OFFLOAD_DEMO_DB: join(scratch, 'demo.db'), OFFLOAD_DEMO_STALL_TIMEOUT: '1000' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = (await once(child.stdout, 'data')) as [Buffer];
  const port = /127\.0\.0\.1:(\d+)/.exec(line.toString())?.[1];
  assert.ok(port, line.toString());
  const origin = `http://127.0.0.1:${port}`;
  // Four stalled exports hold all four workers of the demo's pool.
  await Promise.all(Array.from({ length: 4 }, () => stalledExport(origin)));
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const [code] = await exited;
  assert.equal(code, 0);
});

test('on SIGTERM the demo exits although a keep-alive client keeps the connection of a request answered during the close', { timeout: 60_000 }, async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'demo/server.ts'], {
    cwd: new URL('..', import.meta.url),
    env: { ...process.env, PORT: '0', OFFLOAD_DEMO_DB: join(scratch, 'demo.db') },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = (await once(child.stdout, 'data')) as [Buffer];
  const port = Number(/127\.0\.0\.1:(\d+)/.exec(line.toString())?.[1]);
  // A raw keep-alive connection that stays open as long as the server lets it (Fastify's
  // keepAliveTimeout is 72 s): the request is in flight when SIGTERM arrives.
  const socket = connect(port, '127.0.0.1');
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  socket.on('error', () => {});
  try {
    await once(socket, 'connect');
    socket.write('GET /report.csv?rows=100000 HTTP/1.1\r\nHost: demo\r\n\r\n');
    await once(socket, 'data'); // the export is streaming: the request is in flight
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = await exited;
    assert.equal(code, 0);
    assert.match(received, /^HTTP\/1\.1 200 /);
    assert.match(received, /\r\n0\r\n\r\n$/, 'the export in flight was sent whole before the exit');
  } finally {
    socket.destroy();
    child.kill('SIGKILL');
  }
});
