/**
 * What a pool loads before its first result, with the compiled package as users run it: each
 * worker entry (and `offload/task`) is one file, a task module's own copy of offload's worker-side
 * code (through `offload` or `offload/task`) agrees with the worker's task loop, and
 * neither the pool nor its workers load what they do not use (OpenTelemetry before something is
 * registered with it; the built-ins only other executors need).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { localExecutors } from './helpers.js';

const run = promisify(execFile);
const root = new URL('..', import.meta.url);

/** What a script printed last, as JSON. */
function lastLineJson(stdout: string): unknown {
  return JSON.parse(stdout.trim().split('\n').at(-1)!);
}

/**
 * Runs `script` as an ES module in a fresh process at the repository root (`-e`, told
 * `--input-type=module` unless `flags` say otherwise); returns its last line as JSON.
 */
async function inFreshProcess(script: string, options: { flags?: string[]; env?: NodeJS.ProcessEnv } = {}): Promise<unknown> {
  const { flags = ['--input-type=module'], env } = options;
  const { stdout } = await run(process.execPath, [...flags, '-e', script], { cwd: root.pathname, timeout: 30_000, env });
  return lastLineJson(stdout);
}

/** Runs `script` as an ES module file in a fresh process, under `flags`; returns its last line as JSON. */
async function inFreshFile(script: string, flags: string[] = []): Promise<unknown> {
  const directory = mkdtempSync(join(tmpdir(), 'offload-startup-'));
  try {
    const file = join(directory, 'main.mjs');
    writeFileSync(file, script);
    const { stdout } = await run(process.execPath, [...flags, file], { cwd: root.pathname, timeout: 30_000 });
    return lastLineJson(stdout);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

test('each worker entry, and offload/task, is one file: it imports only Node built-ins', () => {
  for (const entry of ['worker/thread-entry.mjs', 'worker/process-entry.mjs', 'task.js']) {
    const code = readFileSync(new URL(`dist/${entry}`, root), 'utf8');
    const imported = [...code.matchAll(/^\s*(?:import|export)\b[^'"]*?\bfrom\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]/gm)].map(
      (match) => match[1] ?? match[2],
    );
    assert.ok(imported.length > 0, `${entry}: no imports found, so this check would prove nothing`);
    assert.deepEqual(imported.filter((specifier) => !specifier!.startsWith('node:')), [], `${entry} loads other files`);
  }
});

/** A task module per entry of offload's that task code may import, each running the same tasks. */
const TASK_MODULES = { offload: 'startup-tasks-offload.mjs', 'offload/task': 'startup-tasks-task.mjs' };

for (const executor of localExecutors()) {
  for (const [entry, file] of Object.entries(TASK_MODULES)) {
    test(`a task module's own ${entry} agrees with the worker's task loop: state, progress, transfer, context (${executor})`, async () => {
      const result = await inFreshProcess(`
        import { AsyncLocalStorage } from 'node:async_hooks';
        import { createPool } from 'offload';
        const requests = new AsyncLocalStorage();
        const pool = createPool(new URL('./test/fixtures/${file}', import.meta.url), {
          executor: '${executor}', size: 1, captureContext: () => requests.getStore(),
        });
        const described = await requests.run('r-1', () => pool.run('describe', []));
        const reports = [];
        const bytes = await pool.run('bytes', [1024], { onProgress: (value) => reports.push(value) });
        const moved = await pool.run('sentWasMoved', []);
        await pool.close();
        console.log(JSON.stringify({ described, reports, length: bytes.byteLength, first: bytes[0], moved }));
      `);
      assert.deepEqual(result, {
        described: { isWorker: true, workerId: 1, context: 'r-1' },
        reports: ['filled'],
        length: 1024,
        first: 7,
        moved: true,
      });
    });
  }

  test(`a pool loads @opentelemetry/api only once something is registered with it, and traces from then on (${executor})`, async () => {
    const result = await inFreshProcess(`
      import { createRequire } from 'node:module';
      import { createPool } from 'offload';
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((file) => file.includes('@opentelemetry/api'));
      const pool = createPool(new URL('./test/fixtures/basic-js.mjs', import.meta.url), { executor: '${executor}', size: 1 });
      const before = { sum: await pool.run('add', [1, 2]), loaded: loaded() };
      // The application sets up its SDK after creating the pool.
      const { context, trace } = await import('@opentelemetry/api');
      const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks');
      const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
      const exporter = new InMemorySpanExporter();
      context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
      trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
      const sum = await trace.getTracer('app').startActiveSpan('request', async (span) => {
        try { return await pool.run('add', [2, 3]); } finally { span.end(); }
      });
      await pool.close();
      const spans = exporter.getFinishedSpans().map((span) => span.name).sort();
      console.log(JSON.stringify({ before, after: { sum, loaded: loaded(), spans } }));
    `);
    assert.deepEqual(result, {
      before: { sum: 3, loaded: false },
      after: { sum: 5, loaded: true, spans: ['offload add', 'request'] },
    });
  });
}

for (const executor of localExecutors()) {
  test(`a worker times its tasks and throttles progress without loading perf_hooks (${executor})`, async () => {
    const { createPool } = await import('offload');
    const pool = createPool(new URL('./fixtures/loaded-builtins.mjs', import.meta.url), { executor, size: 1 });
    try {
      const reports: unknown[] = [];
      assert.equal(await pool.run('reportsProgress', [], { onProgress: (value) => reports.push(value) }), 'done');
      assert.deepEqual(reports, [1, 2]);
      assert.ok(pool.stats().runTime.count >= 1, 'the task was timed');
      const builtins = (await pool.run('builtins', [])) as string[];
      assert.ok(builtins.includes('NativeModule worker_threads') || builtins.includes('NativeModule child_process'), 'the list is read');
      // The global performance object loads these on first use: about 1 ms of every worker's start.
      assert.deepEqual(builtins.filter((name) => /perf_hooks|internal\/perf\/performance$/.test(name)), []);
    } finally {
      await pool.close();
    }
  });
}

/** A script that creates a thread pool, `options` its source text, and prints where its thread started. */
function threadStart(options = '{}', afterImport = ''): string {
  return `
    const { createPool } = await import(${JSON.stringify(new URL('dist/index.js', root).href)});
    ${afterImport}
    const pool = createPool(new URL(${JSON.stringify(new URL('test/fixtures/loaded-builtins.mjs', root).href)}), { size: 1, ...${options} });
    const started = await pool.run('startedFrom', []);
    await pool.close();
    console.log(JSON.stringify(started));
  `;
}

test("a thread never runs the application's --import preloads, and starts under whatever --input-type it inherits", async () => {
  // A thread started from a file would: Node runs `--import` preloads in such a thread (a tracing
  // SDK set up again, tsx loaded again, in every thread), and refuses it a file when told
  // `--input-type`, by the parent's flags (in either spelling), NODE_OPTIONS (even once cleared),
  // or the pool's own `execArgv` or `env`.
  const fromEval = { fromEntryFile: false, preloaded: false };
  assert.deepEqual(await inFreshFile(threadStart(), ['--import', './test/fixtures/preload-marker.mjs']), fromEval);
  assert.deepEqual(await inFreshProcess(threadStart()), fromEval);
  assert.deepEqual(await inFreshProcess(threadStart(), { flags: ['--input_type=module'] }), fromEval);
  const esmByEnv = { flags: [], env: { ...process.env, NODE_OPTIONS: '--input-type=module' } };
  assert.deepEqual(await inFreshProcess(threadStart(), esmByEnv), fromEval);
  assert.deepEqual(await inFreshProcess(threadStart('{}', 'delete process.env.NODE_OPTIONS;'), esmByEnv), fromEval);
  assert.deepEqual(await inFreshFile(threadStart("{ env: { NODE_OPTIONS: '--input-type module' } }")), fromEval);
  assert.deepEqual(await inFreshFile(threadStart("{ execArgv: ['--input-type=module'] }")), fromEval);
});

for (const executor of localExecutors()) {
  test(`a pool works under a parent told --input-type in either spelling: --input_type too (${executor})`, async () => {
    const script = `
      const { createPool } = await import('offload');
      const pool = createPool(new URL('./test/fixtures/basic-js.mjs', import.meta.url), { executor: '${executor}', size: 1 });
      const sum = await pool.run('add', [1, 2]);
      await pool.close();
      console.log(JSON.stringify(sum));
    `;
    assert.equal(await inFreshProcess(script, { flags: ['--input_type=module'] }), 3);
  });

  test(`a task's stack loses the task loop's frames wherever offload is installed (a path with spaces and non-ASCII letters), source maps or not (${executor})`, async () => {
    const directory = mkdtempSync(join(tmpdir(), 'offload stack ü '));
    try {
      const installed = join(directory, 'node_modules', 'offload');
      cpSync(new URL('dist', root), join(installed, 'dist'), { recursive: true });
      copyFileSync(new URL('package.json', root), join(installed, 'package.json'));
      writeFileSync(
        join(directory, 'tasks.mjs'),
        'export function fails() { throw new TypeError("bad input"); }\nexport function* failsMidway() { yield 1; throw new RangeError("bad item"); }\n',
      );
      writeFileSync(
        join(directory, 'main.mjs'),
        `import { createPool } from 'offload';
        const pool = createPool(new URL('./tasks.mjs', import.meta.url), { executor: '${executor}', size: 1 });
        const call = await pool.run('fails', []).then(() => 'no error', (error) => error.stack);
        let stream = 'no error';
        try {
          for await (const item of pool.stream('failsMidway', [])) void item;
        } catch (error) {
          stream = error.stack;
        }
        await pool.close();
        console.log(JSON.stringify({ call, stream }));`,
      );
      // Frames name a module by URL, where the space and the ü are escaped: a path never matches
      // them. Under --enable-source-maps they name the sources the bundle maps back to: the task
      // loop's, and, for a generator task, the stream pump's.
      for (const flags of [[], ['--enable-source-maps']]) {
        const { stdout } = await run(process.execPath, [...flags, join(directory, 'main.mjs')], { cwd: directory, timeout: 30_000 });
        const { call, stream } = lastLineJson(stdout) as { call: string; stream: string };
        const under = `under ${flags.join(' ') || 'no flags'}`;
        assert.match(call, /^TypeError: bad input\n\s+at fails /);
        assert.doesNotMatch(call, /^\s+at .*\/(dist|src)\/worker\//m, under);
        assert.match(stream, /^RangeError: bad item\n\s+at failsMidway /);
        assert.doesNotMatch(stream, /^\s+at .*\/(dist|src)\/worker\//m, under);
      }
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
}

test('a thread pool starts without the built-ins only other executors need, nor node:crypto, nor Web Crypto', async () => {
  const result = await inFreshProcess(`
    // (Not \`net\`: a worker thread's own stdio loads it, with or without offload.)
    const unneeded = /^NativeModule (child_process|v8|crypto|internal\\/crypto\\/keys)$/;
    const loaded = () => process.moduleLoadList.filter((name) => unneeded.test(name));
    const atStart = loaded();
    const { createPool, transfer } = await import('offload');
    const pool = createPool(new URL('./test/fixtures/basic-js.mjs', import.meta.url), { size: 2 });
    await Promise.all([pool.run('add', [1, 2]), pool.run('slowDouble', [transfer(new Uint8Array(8)).length])]);
    await pool.close();
    const afterCalls = loaded();
    // The check itself must be able to fail: Web Crypto's key class is one thing it would catch.
    globalThis.CryptoKey;
    console.log(JSON.stringify({ atStart, afterCalls, witness: loaded().length > 0 }));
  `);
  assert.deepEqual(result, { atStart: [], afterCalls: [], witness: true });
});

test('a pool times its calls without loading perf_hooks on the main thread', async () => {
  const result = await inFreshProcess(`
    const perf = () => process.moduleLoadList.filter((name) => /^NativeModule (perf_hooks|internal\\/perf\\/performance)$/.test(name));
    const { createPool } = await import('offload');
    const pool = createPool(new URL('./test/fixtures/basic-js.mjs', import.meta.url), { size: 2 });
    await Promise.all([pool.run('add', [1, 2]), pool.run('add', [3, 4]), pool.run('slowDouble', [2])]);
    const timed = pool.stats().waitTime.count >= 3 && pool.stats().runTime.count >= 3;
    await pool.close();
    const afterCalls = perf();
    // The check itself must be able to fail: the global performance object loads them on first use.
    performance.now();
    console.log(JSON.stringify({ timed, afterCalls, witness: perf().length > 0 }));
  `);
  assert.deepEqual(result, { timed: true, afterCalls: [], witness: true });
});

/** The files `entry` loads through static imports, itself included (relative specifiers only). */
function staticGraph(entry: URL): URL[] {
  const seen = new Map<string, URL>();
  const visit = (file: URL): void => {
    if (seen.has(file.href)) return;
    seen.set(file.href, file);
    const code = readFileSync(file, 'utf8');
    for (const match of code.matchAll(/^(?:import|export)\b[^'"]*?['"](\.[^'"]+)['"]/gm)) visit(new URL(match[1]!, file));
  };
  visit(entry);
  return [...seen.values()];
}

test("importing offload compiles neither the process nor the remote executor, and loads one chunk", () => {
  const loaded = staticGraph(new URL('dist/index.js', root));
  const code = loaded.map((file) => readFileSync(file, 'utf8')).join('\n');
  for (const name of ['ProcessExecutor', 'RemoteExecutor', 'RemoteLink']) {
    assert.doesNotMatch(code, new RegExp(`\\bclass ${name}\\b`), `${name} is compiled with offload`);
  }
  // The executors exist, loaded by a pool that names them: the check above can fail.
  const library = readFileSync(loaded.find((file) => file.pathname.includes('/chunks/'))!, 'utf8');
  assert.match(library, /import\("\.\/process-[A-Z0-9]+\.js"\)/);
  assert.match(library, /import\("\.\/remote-[A-Z0-9]+\.js"\)/);
  // Each file costs a thread pool's start-up about a millisecond whatever its size.
  assert.equal(loaded.length, 2, `offload loads ${loaded.map((file) => file.pathname.split('/dist/')[1]).join(', ')}`);
});

test("a process pool imports the process executor's code once: later pools start without another import(), nor a loader hook's round trip", async () => {
  const result = await inFreshProcess(`
    import { register } from 'node:module';
    import { MessageChannel } from 'node:worker_threads';
    // A loader's hooks (tsx's, an APM agent's) see every import() the application makes: these
    // report each one of offload's executor chunks, in order, then a marker imported last.
    const { port1, port2 } = new MessageChannel();
    const resolved = [];
    let markerSeen;
    const markerResolved = new Promise((resolve) => (markerSeen = resolve));
    port1.on('message', (specifier) => (specifier.includes('marker') ? markerSeen() : resolved.push(specifier)));
    register('data:text/javascript,' + encodeURIComponent(\`
      let port;
      export function initialize(data) { port = data.port; }
      export async function resolve(specifier, context, next) {
        if (/^\\\\.\\\\/(process|remote)-|marker/.test(specifier)) port.postMessage(specifier);
        return next(specifier, context);
      }
    \`), { data: { port: port2 }, transferList: [port2] });
    const { createPool } = await import('offload');
    const sums = [];
    for (let i = 0; i < 3; i++) {
      const pool = createPool(new URL('./test/fixtures/basic-js.mjs', import.meta.url), { executor: 'process', size: 1 });
      sums.push(await pool.run('add', [i, 1]));
      await pool.close();
    }
    await import('data:text/javascript,export const marker = 1');
    await markerResolved;
    port1.close();
    console.log(JSON.stringify({ sums, resolved: resolved.map((specifier) => specifier.replace(/-[A-Z0-9]+\\.js$/, '')) }));
  `);
  assert.deepEqual(result, { sums: [1, 2, 3], resolved: ['./process'] });
});

test("warmup() answers close() and destroy() alike whether or not the process executor's code had loaded: close() lets it resolve, destroy() fails it", async () => {
  // A fresh process each: its first process pool is still loading the executor's code when
  // close() or destroy() comes; the second has it at once, as a pool of threads does.
  const answers = async (end: 'close' | 'destroy'): Promise<unknown> =>
    inFreshProcess(`
      const { createPool } = await import('offload');
      const answers = [];
      for (const executor of ['process', 'process', 'thread']) {
        const pool = createPool(new URL('./test/fixtures/basic-js.mjs', import.meta.url), { executor, size: 1 });
        const warming = pool.warmup().then(() => 'resolved', (error) => error.code + ': ' + error.message);
        await pool.${end}();
        answers.push(await warming);
      }
      console.log(JSON.stringify(answers));
    `);
  assert.deepEqual(await answers('close'), ['resolved', 'resolved', 'resolved']);
  const destroyed = 'ERR_OFFLOAD_CLOSED: The pool was destroyed';
  assert.deepEqual(await answers('destroy'), [destroyed, destroyed, destroyed]);
});

test("offload run from source finds its worker entries when a loader adds a query to its modules' URLs", async () => {
  // Cache-busting loaders (esmock, watch modes) resolve a module to `file.ts?v=1`: the entries
  // must still be picked by the file's own extension.
  const result = await inFreshProcess(
    `
    import { register } from 'node:module';
    register('data:text/javascript,' + encodeURIComponent(\`
      export async function resolve(specifier, context, next) {
        const resolved = await next(specifier, context);
        return /\\\\/src\\\\/executors\\\\/executor\\\\.ts$/.test(resolved.url) ? { ...resolved, url: resolved.url + '?v=1' } : resolved;
      }
    \`));
    const { createPool } = await import('./src/index.ts');
    const sums = [];
    for (const executor of ['thread', 'process']) {
      const pool = createPool(new URL('./test/fixtures/basic-js.mjs', import.meta.url), { executor, size: 1 });
      sums.push(await pool.run('add', [1, 2]).catch((error) => error.code));
      await pool.close();
    }
    console.log(JSON.stringify(sums));
  `,
    { flags: ['--import', 'tsx', '--input-type=module'] },
  );
  assert.deepEqual(result, [3, 3]);
});
