/**
 * Without `@opentelemetry/api` installed: the compiled package, copied where the API cannot be
 * resolved, runs calls as always, and a request context still travels. The script first proves
 * the API is really out of reach from there, so this test cannot pass by finding it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { buildSync } from 'esbuild';
import { promisify } from 'node:util';
import { executors } from './helpers.js';

const run = promisify(execFile);
const root = new URL('..', import.meta.url).pathname;
const app = mkdtempSync(join(tmpdir(), 'offload-no-otel-'));
after(() => rmSync(app, { recursive: true, force: true }));

const installed = join(app, 'node_modules', 'offload');
cpSync(join(root, 'dist'), join(installed, 'dist'), { recursive: true });
cpSync(join(root, 'package.json'), join(installed, 'package.json'));
buildSync({
  entryPoints: [join(root, 'src/tracing/restore.ts')],
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outfile: join(app, 'restore.mjs'),
  logLevel: 'warning',
});
writeFileSync(
  join(app, 'tasks.mjs'),
  `import { callContext } from 'offload';
   export async function whoAsks() { await new Promise((resolve) => setTimeout(resolve, 1)); return callContext() ?? null; }`,
);

for (const executor of executors.filter((name) => name !== 'remote')) {
  test(`with the API absent, calls run and carry their request context (${executor})`, async () => {
    const script = `
      import { createRequire } from 'node:module';
      import { AsyncLocalStorage } from 'node:async_hooks';
      import { createPool } from 'offload';
      const offloadRequire = createRequire(new URL('./node_modules/offload/dist/index.js', import.meta.url));
      let absent = false;
      try { offloadRequire.resolve('@opentelemetry/api'); } catch { absent = true; }
      const requests = new AsyncLocalStorage();
      const pool = createPool(new URL('./tasks.mjs', import.meta.url), {
        executor: '${executor}', size: 1, captureContext: () => requests.getStore(),
      });
      const plain = await pool.run('whoAsks', []);
      const carried = await requests.run('r-1', () => pool.run('whoAsks', []));
      // A trace context arriving where the API is missing (a remote worker without it) is ignored.
      // Only a remote job can bring one to a worker, so the worker's own restore step is called
      // directly, bundled here as the worker's entry bundles it: with nothing registered, and
      // with a registration the API's package cannot be loaded for.
      const { runCarried, callContext } = await import('./restore.mjs');
      const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
      const ignored = runCarried({ trace: { traceparent }, request: 'r-2' }, () => callContext());
      globalThis[Symbol.for('opentelemetry.js.api.1')] = { version: '1.9.1' };
      const ignoredRegistered = runCarried({ trace: { traceparent }, request: 'r-3' }, () => callContext());
      console.log(JSON.stringify({ absent, plain, carried, ignored, ignoredRegistered }));
      await pool.close();
    `;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: app, timeout: 30_000 });
    assert.deepEqual(JSON.parse(stdout), { absent: true, plain: null, carried: 'r-1', ignored: 'r-2', ignoredRegistered: 'r-3' });
  });
}
