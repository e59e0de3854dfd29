import { test } from 'node:test';
import { createPool } from '../src/index.js';
import type * as Tasks from './fixtures/remote-tasks.js';
import { fixture } from './helpers.js';
import { sharedRedis, startWorkerProcess } from './remote-harness.js';
test('debug', async () => {
  const url = sharedRedis().url;
  const w = startWorkerProcess(fixture('remote-tasks.ts'), url, 'dbg', { size: 1, maxPayloadBytes: 65536 });
  const pool = createPool<typeof Tasks>(fixture('remote-tasks.ts'), { executor: 'remote', connection: url, queue: 'dbg', size: 1, maxPayloadBytes: 65536 });
  await w.ready;
  console.log('ready');
  const e = await pool.tasks.length(new Uint8Array(100_000)).catch((e) => e);
  console.log('1', e.code);
  const keep = setInterval(() => console.log((process as any)._getActiveHandles().map((h: any) => h.constructor.name)), 500);
  const r = await pool.tasks.bytes(100_000).catch((e) => e);
  console.log('2', r.code, r.message);
  clearInterval(keep);
  await pool.close(); await w.stop();
});
